//! A small async ZooKeeper client on tokio, built only on `keeper_core::wire`.
//!
//! It serves `keeper shell`, `keeper bench` and the conformance tests, so it speaks the
//! plain client protocol and nothing more: one connection, no reconnection, no
//! chroot. A background task owns the socket. Callers hand it requests through a
//! channel; it numbers them with increasing xids and keeps them in a FIFO, because a
//! ZooKeeper server answers one connection's requests in the order it received them
//! (`ClientCnxn` relies on the same rule). Invariant: the head of `pending` is the
//! request the next non-special reply answers; a reply whose xid differs is a protocol
//! violation and ends the connection. Notifications (xid -1) go to the watch channel,
//! ping replies (xid -2) are dropped, auth replies (xid -4) answer the oldest `add_auth`.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use keeper_core::error::KeeperError;
use keeper_core::ids::{SessionId, Xid, Zxid};
use keeper_core::limits::DEFAULT_MAX_BUFFER_BYTES;
use keeper_core::proto::{
    Acl, ConnectRequest, CreateOp, CreateRequest, Request, Response, Stat, WatchedEvent,
};
use keeper_core::wire::codec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Why a client call failed: a ZooKeeper answer, or the connection itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The server answered with this error code.
    Keeper(KeeperError),
    /// The connection is gone (closed, reset, timed out, or the task ended); the request
    /// may or may not have been applied.
    ConnectionLoss(String),
    /// The server sent bytes this client cannot decode.
    Protocol(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Keeper(e) => write!(f, "{e}"),
            ClientError::ConnectionLoss(why) => write!(f, "connection loss: {why}"),
            ClientError::Protocol(why) => write!(f, "protocol error: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// What the handshake settled: the session and the timeout the server granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub timeout_ms: i32,
    pub passwd: Bytes,
    pub read_only: bool,
    /// The address that accepted the session.
    pub server: String,
}

/// A connected session. Cheap to clone; every clone talks to the same background task.
/// Drive it by awaiting calls; read watch events from the receiver `connect` returned.
/// Dropping every clone ends the task and the connection without closeSession (the
/// session then expires on the server); call `close` to end it cleanly.
#[derive(Clone, Debug)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    session: Session,
}

/// Opens a session with the first address in `addrs` that accepts one. Returns the client
/// and the channel on which watch notifications arrive, in server order.
pub async fn connect(
    addrs: &[String],
    session_timeout: Duration,
) -> Result<(Client, mpsc::UnboundedReceiver<WatchedEvent>), ClientError> {
    open(addrs, session_timeout, None).await
}

/// Reattaches to `session` (after its connection was lost) at the first address in `addrs`
/// that accepts it, as ZooKeeper's own clients do on reconnect. Watches are not re-set.
pub async fn resume(
    addrs: &[String],
    session: &Session,
) -> Result<(Client, mpsc::UnboundedReceiver<WatchedEvent>), ClientError> {
    let timeout = Duration::from_millis(session.timeout_ms.max(0) as u64);
    open(addrs, timeout, Some((session.id, session.passwd.clone()))).await
}

async fn open(
    addrs: &[String],
    session_timeout: Duration,
    resume: Option<(SessionId, Bytes)>,
) -> Result<(Client, mpsc::UnboundedReceiver<WatchedEvent>), ClientError> {
    let mut last = ClientError::ConnectionLoss("no server address given".to_string());
    for addr in addrs {
        match handshake(addr, session_timeout, resume.clone()).await {
            Ok((stream, buf, session)) => {
                let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
                let (watch_tx, watch_rx) = mpsc::unbounded_channel();
                let ping_every = Duration::from_millis((session.timeout_ms.max(3) / 3) as u64);
                tokio::spawn(run(stream, buf, command_rx, watch_tx, ping_every));
                return Ok((Client { commands, session }, watch_rx));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl Client {
    /// The session this client holds.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Sends one request and waits for its reply.
    pub async fn request(&self, req: Request) -> Result<Response, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Command { req, reply }).await.map_err(|_| lost("task ended"))?;
        rx.await.map_err(|_| lost("task ended"))?
    }

    /// Creates `path` (op create2, or createTTL when `ttl` is given, or createContainer
    /// when `flags` is 4); answers the created path (with the sequence suffix) and stat.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        flags: i32,
        ttl: Option<i64>,
    ) -> Result<(String, Stat), ClientError> {
        let op = match (ttl, flags) {
            (Some(_), _) => CreateOp::CreateTtl,
            (None, CREATE_MODE_CONTAINER) => CreateOp::CreateContainer,
            (None, _) => CreateOp::Create2,
        };
        let req = CreateRequest {
            op,
            path: path.to_string(),
            data: Some(Bytes::copy_from_slice(data)),
            acl,
            flags,
            ttl,
        };
        match self.request(Request::Create(req)).await? {
            Response::Create2 { path, stat } => Ok((path, stat)),
            other => Err(unexpected(other)),
        }
    }

    /// Reads a node's data (`None` when it is null) and stat, optionally leaving a data watch.
    pub async fn get_data(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Option<Bytes>, Stat), ClientError> {
        match self.request(Request::GetData { path: path.to_string(), watch }).await? {
            Response::GetData { data, stat } => Ok((data, stat)),
            other => Err(unexpected(other)),
        }
    }

    /// Replaces a node's data if its version matches (-1 matches any).
    pub async fn set_data(
        &self,
        path: &str,
        data: &[u8],
        version: i32,
    ) -> Result<Stat, ClientError> {
        let req = Request::SetData {
            path: path.to_string(),
            data: Some(Bytes::copy_from_slice(data)),
            version,
        };
        expect_stat(self.request(req).await?)
    }

    /// Deletes a node if its version matches (-1 matches any).
    pub async fn delete(&self, path: &str, version: i32) -> Result<(), ClientError> {
        self.request(Request::Delete { path: path.to_string(), version }).await.map(drop)
    }

    /// The node's stat, or None when it does not exist (a watch is left either way).
    pub async fn exists(&self, path: &str, watch: bool) -> Result<Option<Stat>, ClientError> {
        match self.request(Request::Exists { path: path.to_string(), watch }).await {
            Ok(resp) => expect_stat(resp).map(Some),
            Err(ClientError::Keeper(KeeperError::NoNode)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A node's children (unsorted, as the server sends them) and its stat.
    pub async fn get_children(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, Stat), ClientError> {
        match self.request(Request::GetChildren2 { path: path.to_string(), watch }).await? {
            Response::GetChildren2 { children, stat } => Ok((children, stat)),
            other => Err(unexpected(other)),
        }
    }

    /// A node's ACL and stat.
    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat), ClientError> {
        match self.request(Request::GetAcl { path: path.to_string() }).await? {
            Response::GetAcl { acl, stat } => Ok((acl, stat)),
            other => Err(unexpected(other)),
        }
    }

    /// Replaces a node's ACL if its aversion matches (-1 matches any).
    pub async fn set_acl(
        &self,
        path: &str,
        acl: Vec<Acl>,
        version: i32,
    ) -> Result<Stat, ClientError> {
        expect_stat(self.request(Request::SetAcl { path: path.to_string(), acl, version }).await?)
    }

    /// Waits until the server this client talks to has caught up with the leader.
    pub async fn sync(&self, path: &str) -> Result<String, ClientError> {
        match self.request(Request::Sync { path: path.to_string() }).await? {
            Response::Sync { path } => Ok(path),
            other => Err(unexpected(other)),
        }
    }

    /// Adds an identity to the session (xid -4); a failure closes the connection.
    pub async fn add_auth(&self, scheme: &str, auth: &[u8]) -> Result<(), ClientError> {
        let req = Request::Auth {
            auth_type: 0,
            scheme: scheme.to_string(),
            auth: Bytes::copy_from_slice(auth),
        };
        self.request(req).await.map(drop)
    }

    /// Ends the session on the server (closeSession) and the connection.
    pub async fn close(&self) -> Result<(), ClientError> {
        self.request(Request::CloseSession).await.map(drop)
    }
}

// ---- private ----

/// Flags value of a container create (`CreateMode.CONTAINER`).
const CREATE_MODE_CONTAINER: i32 = 4;
/// Requests waiting to be written; callers wait (backpressure) beyond this.
const COMMAND_QUEUE: usize = 1024;
/// Requests written and not yet answered; past this the task stops reading commands
/// until replies drain, so a fast caller cannot grow memory without bound.
const MAX_PENDING: usize = 10_000;
/// A write batch stops taking queued commands past this many encoded bytes.
const WRITE_BATCH_BYTES: usize = 64 * 1024;
/// The protocol version every ZooKeeper client sends.
const PROTOCOL_VERSION: i32 = 0;

struct Command {
    req: Request,
    reply: oneshot::Sender<Result<Response, ClientError>>,
}

struct Pending {
    xid: i32,
    op: i32,
    reply: oneshot::Sender<Result<Response, ClientError>>,
}

fn lost(why: &str) -> ClientError {
    ClientError::ConnectionLoss(why.to_string())
}

fn unexpected(resp: Response) -> ClientError {
    ClientError::Protocol(format!("unexpected response {resp:?}"))
}

fn expect_stat(resp: Response) -> Result<Stat, ClientError> {
    match resp {
        Response::Stat(stat) => Ok(stat),
        other => Err(unexpected(other)),
    }
}

fn decode_err(e: impl std::fmt::Debug) -> ClientError {
    ClientError::Protocol(format!("{e:?}"))
}

async fn handshake(
    addr: &str,
    session_timeout: Duration,
    resume: Option<(SessionId, Bytes)>,
) -> Result<(TcpStream, BytesMut, Session), ClientError> {
    let (session_id, passwd) = resume.unwrap_or((SessionId::NONE, Bytes::from_static(&[0; 16])));
    let io = |e: std::io::Error| ClientError::ConnectionLoss(format!("{addr}: {e}"));
    let mut stream = TcpStream::connect(addr).await.map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    let req = ConnectRequest {
        protocol_version: PROTOCOL_VERSION,
        last_zxid_seen: Zxid::ZERO,
        timeout_ms: session_timeout.as_millis().min(i32::MAX as u128) as i32,
        session_id,
        passwd,
        read_only: Some(false),
    };
    let mut out = Vec::new();
    codec::encode_connect_request(&req, &mut out);
    stream.write_all(&out).await.map_err(io)?;
    let mut buf = BytesMut::with_capacity(4096);
    let body = loop {
        if let Some(n) = next_frame(&buf)? {
            let frame = buf.split_to(n);
            break frame.freeze().slice(4..);
        }
        if stream.read_buf(&mut buf).await.map_err(io)? == 0 {
            return Err(lost("server closed the connection during the handshake"));
        }
    };
    let resp = codec::decode_connect_response(&body).map_err(decode_err)?;
    // A zero timeout is how ZooKeeper refuses a session (e.g. an expired one).
    if resp.timeout_ms <= 0 || resp.session_id == SessionId::NONE {
        return Err(ClientError::Keeper(KeeperError::SessionExpired));
    }
    let session = Session {
        id: resp.session_id,
        timeout_ms: resp.timeout_ms,
        passwd: resp.passwd,
        read_only: resp.read_only.unwrap_or(false),
        server: addr.to_string(),
    };
    Ok((stream, buf, session))
}

fn next_frame(buf: &[u8]) -> Result<Option<usize>, ClientError> {
    codec::frame_len(buf, DEFAULT_MAX_BUFFER_BYTES + 1024)
        .map_err(|len| ClientError::Protocol(format!("bad frame length {len}")))
}

/// The background task: owns the socket until an error, a close, or every client is gone.
async fn run(
    mut stream: TcpStream,
    mut buf: BytesMut,
    mut commands: mpsc::Receiver<Command>,
    watches: mpsc::UnboundedSender<WatchedEvent>,
    ping_every: Duration,
) {
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut auths: VecDeque<Pending> = VecDeque::new();
    let mut next_xid: i32 = 1;
    let mut closing = false;
    let mut out: Vec<u8> = Vec::with_capacity(WRITE_BATCH_BYTES);
    let mut ping = tokio::time::interval(ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end: ClientError = loop {
        // Each frame found in `buf` is handled before reading more.
        match drain_frames(&mut buf, &mut pending, &mut auths, &watches) {
            Ok(()) => {}
            Err(e) => break e,
        }
        if closing && pending.is_empty() {
            break lost("session closed");
        }
        let room = pending.len() < MAX_PENDING && !closing;
        tokio::select! {
            cmd = commands.recv(), if room => {
                let Some(first) = cmd else { break lost("client dropped") };
                // Pipelining: every command already queued goes out in the same write, so
                // a deep pipeline costs one syscall per batch, not one per request.
                out.clear();
                let mut next = Some(first);
                while let Some(Command { req, reply }) = next.take() {
                    let op = req.op_code();
                    let xid = match req {
                        Request::Auth { .. } => Xid::AUTH.0,
                        _ => { let x = next_xid; next_xid = next_xid.wrapping_add(1).max(1); x }
                    };
                    codec::encode_request(xid, &req, &mut out);
                    closing = matches!(req, Request::CloseSession);
                    let entry = Pending { xid, op, reply };
                    if xid == Xid::AUTH.0 { auths.push_back(entry) } else { pending.push_back(entry) }
                    if !closing && pending.len() < MAX_PENDING && out.len() < WRITE_BATCH_BYTES {
                        next = commands.try_recv().ok();
                    }
                }
                if let Err(e) = stream.write_all(&out).await {
                    break lost(&e.to_string());
                }
                ping.reset();
            }
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) => break lost("server closed the connection"),
                Ok(_) => {}
                Err(e) => break lost(&e.to_string()),
            },
            _ = ping.tick() => {
                out.clear();
                codec::encode_request(Xid::PING.0, &Request::Ping, &mut out);
                if let Err(e) = stream.write_all(&out).await { break lost(&e.to_string()) }
            }
        }
    };
    // Everyone still waiting learns why the connection ended.
    for p in pending.into_iter().chain(auths) {
        let _ = p.reply.send(Err(end.clone()));
    }
}

fn drain_frames(
    buf: &mut BytesMut,
    pending: &mut VecDeque<Pending>,
    auths: &mut VecDeque<Pending>,
    watches: &mpsc::UnboundedSender<WatchedEvent>,
) -> Result<(), ClientError> {
    while let Some(n) = next_frame(buf)? {
        let mut frame = buf.split_to(n);
        frame.advance(4);
        let (header, rest) = codec::decode_reply_header(&frame).map_err(decode_err)?;
        match header.xid {
            -1 => {
                let event = codec::decode_notification(rest).map_err(decode_err)?;
                let _ = watches.send(event);
            }
            -2 => {}
            xid => {
                let queue = if xid == Xid::AUTH.0 { &mut *auths } else { &mut *pending };
                let Some(p) = queue.pop_front() else {
                    return Err(ClientError::Protocol(format!(
                        "reply xid {xid} with none pending"
                    )));
                };
                if p.xid != xid {
                    let why = format!("reply xid {xid}, expected {}", p.xid);
                    let _ = p.reply.send(Err(ClientError::Protocol(why.clone())));
                    return Err(ClientError::Protocol(why));
                }
                let result = if header.err != 0 {
                    Err(match KeeperError::from_code(header.err) {
                        Some(e) => ClientError::Keeper(e),
                        None => ClientError::Protocol(format!("unknown error code {}", header.err)),
                    })
                } else {
                    codec::decode_response(p.op, rest).map_err(decode_err)
                };
                let _ = p.reply.send(result);
            }
        }
    }
    Ok(())
}
