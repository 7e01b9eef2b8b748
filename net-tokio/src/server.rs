//! The client-port server: one task owns the [`Node`], one task per connection frames bytes.
//!
//! Invariant: no protocol decision is made here (STYLE.md §11). The node task waits for an
//! input (a decoded client message, a tick, a storage completion or shutdown), hands it to
//! [`Node::handle`], drains [`Node::poll`] and routes each output: `Persist` to the storage
//! writer, client outputs as encoded frames to the connection's bounded outbound queue.
//! Every queue is bounded (see [`crate::throttle`]): a connection whose replies pile up
//! unread, or that has requests in process while the server is over
//! `globalOutstandingLimit`, is not read from until that clears; one whose unread replies
//! pass [`crate::throttle::Limits::close_bytes`] anyway is closed. A connection that sends
//! no handshake within `sessionless_cnxn_timeout_ms` is closed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keeper_core::config::Config;
use keeper_core::output::{DurableWrite, ProtocolEvent};
use keeper_core::txn::Txn;
use keeper_core::wire::codec;
use keeper_core::{ConnId, Input, KeeperError, Node, Output, PersistSeq};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn, Instrument};

use crate::peer::{PeerEvent, PeerRouter};
use crate::stats::ShellStats;
use crate::throttle::{ConnLoad, Gate, Limits};

/// Inputs waiting for the node task; past it, connection readers wait (backpressure).
pub const INBOUND_QUEUE: usize = 4096;
/// Frames waiting to be written to one client; past it, the connection is closed. (Bytes
/// are bounded separately, by `Limits::close_bytes`; this bounds many tiny frames.)
pub const OUTBOUND_QUEUE: usize = 64 * 1024;
/// Bytes read from a socket at once.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes of a typical small request frame (a getData of a 20-byte path is 37), for sizing
/// the inputs decoded from one read.
const TYPICAL_REQUEST_FRAME: usize = 32;
/// Inputs the node task handles before it hands the connections their replies; bounds how
/// long a reply waits for the batch it rides in.
const INPUTS_PER_PASS: usize = 256;
/// First allocation of a connection's reply buffer in a pass (a getData reply of 100 bytes
/// is about 190), so the replies to a pipeline of ten small requests never regrow it.
const REPLY_BUFFER_BYTES: usize = 2048;
/// A connection's replies are sent before the pass ends once this many bytes wait, so the
/// byte bound on unread replies is checked at least this often.
const PASS_FLUSH_BYTES: usize = 64 * 1024;

/// The storage side of the node task: where `Persist` outputs go and where durable
/// sequence numbers come back. The storage writer thread holds the other ends.
pub struct StorageLink {
    /// Numbered writes, in order, for the writer.
    pub persist: mpsc::UnboundedSender<(PersistSeq, DurableWrite)>,
    /// Cumulative durable sequence numbers reported by the writer.
    pub persisted: mpsc::UnboundedReceiver<PersistSeq>,
    /// Disk-full handling ([`crate::disk_full`]); `None`: a full disk ends the process.
    pub full: Option<crate::disk_full::FullWatch>,
}

/// One message to a connection task.
enum Outbound {
    /// Encoded frames (or 4lw text) to write.
    Bytes(Vec<u8>),
    /// Close after writing everything queued before.
    Close,
}

/// Runs the client server until `shutdown` becomes true: accepts on `listener`, drives
/// `node`, ticks every `config.tick_ms` (tickTime, or finer in an ensemble). Tests bind 127.0.0.1:0 and pass the listener.
pub async fn run(
    config: Config,
    node: Node,
    listener: TcpListener,
    storage: StorageLink,
    shutdown: watch::Receiver<bool>,
) {
    let (_handle, inbox) = node_channel();
    run_with(config, node, listener, storage, inbox, Arc::default(), None, shutdown).await
}

/// [`run`] with the node task's inbox made beforehand (so the admin endpoints hold a
/// [`NodeHandle`] to it), the shell's statistics to update, and, for a member of an
/// ensemble, the events of its peer transport (`crate::peer::start`).
#[allow(clippy::too_many_arguments)]
pub async fn run_with(
    config: Config,
    node: Node,
    listener: TcpListener,
    storage: StorageLink,
    inbox: NodeInbox,
    stats: Arc<ShellStats>,
    peers: Option<mpsc::Receiver<PeerEvent>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let NodeInbox { tx, rx } = inbox;
    let shared = Arc::new(Shared {
        limits: Limits::from_config(&config),
        max_buffer_bytes: config.max_buffer_bytes,
        gate: Gate::default(),
        stats,
    });
    let acceptor = tokio::spawn(accept_loop(listener, tx, shared.clone(), shutdown.clone()));
    node_loop(config, node, rx, storage, peers, &shared, &mut shutdown).await;
    acceptor.abort();
}

/// The node task's input queue, before the task runs.
pub struct NodeInbox {
    tx: mpsc::Sender<Inbound>,
    rx: mpsc::Receiver<Inbound>,
}

/// A way to read the node from another task (the AdminServer, `/metrics`): each query
/// runs on the node task between two inputs, so it sees a consistent state.
#[derive(Clone)]
pub struct NodeHandle {
    tx: mpsc::Sender<Inbound>,
}

/// Makes the node task's queue and a handle to query it through.
pub fn node_channel() -> (NodeHandle, NodeInbox) {
    let (tx, rx) = mpsc::channel::<Inbound>(INBOUND_QUEUE);
    (NodeHandle { tx: tx.clone() }, NodeInbox { tx, rx })
}

impl NodeHandle {
    /// Runs `f` on the node task and returns its result; `None` once the task has stopped.
    /// `f` reads (or resets statistics); it must not deliver inputs.
    pub async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Node) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job: Query = Box::new(move |node: &mut Node| {
            let _ = reply_tx.send(f(node));
        });
        self.tx.send(Inbound::Query(job)).await.ok()?;
        reply_rx.await.ok()
    }
}

/// A read of the node, run on its task.
type Query = Box<dyn FnOnce(&mut Node) + Send>;

/// What connection tasks send the node task: an input, plus (on open) the connection's
/// outbound queue and load so the node task can route replies and account for them; or a
/// query from the admin side.
enum Inbound {
    Open {
        conn: ConnId,
        addr: String,
        out: mpsc::Sender<Outbound>,
        load: Arc<ConnLoad>,
    },
    Input(Input),
    /// Everything one socket read decoded, in order (one channel message per read).
    Inputs(Vec<Input>),
    Query(Query),
}

/// What every task of one server shares: its bounds and the global request count.
struct Shared {
    limits: Limits,
    max_buffer_bytes: usize,
    gate: Gate,
    /// Counters only the shell sees (reply sizes, auth failures, fsync times).
    stats: Arc<ShellStats>,
}

/// The node task's handle on one connection.
struct ConnOut {
    out: mpsc::Sender<Outbound>,
    load: Arc<ConnLoad>,
    /// Bytes encoded for it in the current pass, not yet queued (one map lookup per output
    /// finds both the connection and its buffer).
    pending: Vec<u8>,
}

type Conns = BTreeMap<ConnId, ConnOut>;

async fn node_loop(
    config: Config,
    mut node: Node,
    mut inbound: mpsc::Receiver<Inbound>,
    mut storage: StorageLink,
    peers: Option<mpsc::Receiver<PeerEvent>>,
    shared: &Shared,
    shutdown: &mut watch::Receiver<bool>,
) {
    assert!(config.tick_ms > 0, "tickTime is validated by zoocfg");
    let has_peers = peers.is_some();
    // A standalone server has no peer events: a receiver whose sender is gone at once.
    let mut peers = peers.unwrap_or_else(|| mpsc::channel(1).1);
    let mut ticker = tokio::time::interval(Duration::from_millis(config.tick_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut router = Router::default();
    loop {
        let input = tokio::select! {
            Some(msg) = inbound.recv() => router.admit(msg, &mut node, &storage, shared),
            Some(ev) = peers.recv(), if has_peers => {
                for input in router.peers.event(ev) {
                    router.deliver(&mut node, input, &storage, shared);
                }
                None
            }
            _ = ticker.tick() => Some(Input::Tick { wall_ms: wall_clock_ms() }),
            Some(seq) = storage.persisted.recv() => Some(Input::Persisted { up_to: seq }),
            ev = crate::disk_full::next(&mut storage.full) => match ev {
                crate::disk_full::Event::Full(fault) => {
                    // What was durable before the failed round is still answered.
                    while let Ok(seq) = storage.persisted.try_recv() {
                        let input = Input::Persisted { up_to: seq };
                        router.deliver(&mut node, input, &storage, shared);
                    }
                    router.close_all(shared);
                    node = crate::disk_full::rebuild(&mut storage, &config, fault).await;
                    // The rebuilt node starts over: its old peer links go (the peers see
                    // PeerDown; the dialers reconnect) so no connection spans two nodes.
                    router.peers.break_all();
                    Some(Input::DiskFull { full: true })
                }
                crate::disk_full::Event::SpaceBack => Some(Input::DiskFull { full: false }),
            },
            _ = shutdown.changed() => break,
        };
        if let Some(input) = input {
            router.deliver(&mut node, input, &storage, shared);
        }
        // Batching: take whatever else is already waiting (bounded, so ticks and shutdown
        // are never starved), then hand each connection its replies in one message. Under
        // load one socket write then carries many replies; idle, a reply leaves at once.
        for _ in 1..INPUTS_PER_PASS {
            let input = if let Ok(seq) = storage.persisted.try_recv() {
                Some(Input::Persisted { up_to: seq })
            } else if let Ok(ev) = peers.try_recv() {
                for input in router.peers.event(ev) {
                    router.deliver(&mut node, input, &storage, shared);
                }
                None
            } else if let Ok(msg) = inbound.try_recv() {
                router.admit(msg, &mut node, &storage, shared)
            } else {
                break;
            };
            if let Some(input) = input {
                router.deliver(&mut node, input, &storage, shared);
            }
        }
        router.flush(shared);
    }
    info!("client server shutting down");
}

/// The node task's view of the connections: their outbound queues and loads, and the
/// bytes encoded for each during the current pass. Invariant: a connection's bytes leave
/// in output order, anything pending for it is sent before its Close, and no connection
/// holds more than [`PASS_FLUSH_BYTES`] plus one reply unsent.
#[derive(Default)]
struct Router {
    conns: Conns,
    /// Connections whose `pending` became non-empty in this pass (a connection may be
    /// listed twice if it was flushed early; the second finds nothing to send).
    dirty: Vec<ConnId>,
    /// The links to the other members (empty when standalone).
    peers: PeerRouter,
    /// Inputs that routing produced (a link broken on send), delivered after the drain.
    deferred: Vec<Input>,
}

impl Router {
    /// Registers a new connection or runs an admin query; returns the input, if any (a
    /// batch of inputs is delivered here, every one of them).
    fn admit(
        &mut self,
        msg: Inbound,
        node: &mut Node,
        storage: &StorageLink,
        shared: &Shared,
    ) -> Option<Input> {
        match msg {
            Inbound::Open { conn, addr, out, load } => {
                self.conns.insert(conn, ConnOut { out, load, pending: Vec::new() });
                Some(Input::ClientOpen { conn, addr })
            }
            Inbound::Input(input) => Some(input),
            Inbound::Inputs(inputs) => {
                for input in inputs {
                    self.deliver(node, input, storage, shared);
                }
                None
            }
            Inbound::Query(query) => {
                query(node);
                None
            }
        }
    }

    /// Hands one input to the node and routes every output it produced.
    fn deliver(&mut self, node: &mut Node, input: Input, storage: &StorageLink, shared: &Shared) {
        if let Input::ClientClosed { conn } = &input {
            if let Some(c) = self.conns.remove(conn) {
                c.load.forget(&shared.gate);
            }
        }
        node.handle(input);
        while let Some(output) = node.poll() {
            self.route(output, storage, shared);
        }
        while !self.deferred.is_empty() {
            for input in std::mem::take(&mut self.deferred) {
                node.handle(input);
                while let Some(output) = node.poll() {
                    self.route(output, storage, shared);
                }
            }
        }
        self.peers.apply_config(node.ensemble());
    }

    /// Carries out one output. Encoding lives in core; this only picks the buffer or queue.
    fn route(&mut self, output: Output, storage: &StorageLink, shared: &Shared) {
        // Client outputs (nearly all of them) are encoded from where they lie, not moved.
        let Some(conn) = output.client_conn() else {
            return self.route_server(output, storage);
        };
        self.route_client(conn, output, shared);
    }

    /// Carries out an output for the storage writer, a peer or the log.
    fn route_server(&mut self, output: Output, storage: &StorageLink) {
        match output {
            Output::Persist { seq, write } => {
                if let DurableWrite::Append(rec) = &write {
                    log_session_txn(rec);
                }
                // A dead writer means storage failed; the writer itself ends the process.
                if storage.persist.send((seq, write)).is_err() {
                    warn!("storage writer is gone; dropping persist seq={seq}");
                }
            }
            Output::Role(mode) => {
                info!(mode = mode.as_str(), "role changed: {}", mode.as_str());
            }
            Output::Event(e) => match e {
                ProtocolEvent::Established { epoch } => {
                    info!(epoch, "leading: a quorum synced")
                }
                ProtocolEvent::Snapped { zxid, .. } => {
                    info!(%zxid, "installed the leader's snapshot")
                }
                ProtocolEvent::Looking { last_zxid } => {
                    info!(%last_zxid, "looking for a leader")
                }
                ProtocolEvent::Reconfigured { version } => {
                    info!(%version, "new configuration active");
                    self.peers.note_reconfigured();
                }
                _ => tracing::trace!(?e, "protocol event"),
            },
            Output::Send { to, msg } => {
                if let Some(down) = self.peers.send(to, &msg) {
                    self.deferred.push(down);
                }
            }
            Output::Connected { .. }
            | Output::Reply { .. }
            | Output::Watch { .. }
            | Output::Text { .. }
            | Output::Close { .. } => unreachable!("client outputs go to route_client"),
        }
    }

    /// Encodes a client output into the connection's buffer for this pass (or closes it).
    fn route_client(&mut self, conn: ConnId, output: Output, shared: &Shared) {
        let Some(c) = self.conns.get_mut(&conn) else {
            debug!(%conn, "output for a connection already gone");
            return;
        };
        if let Output::Reply { result: Err(KeeperError::AuthFailed), .. } = &output {
            shared.stats.record_auth_failed();
        }
        if let Output::Reply { .. } = &output {
            c.load.answered(&shared.gate, &shared.limits);
        }
        if c.pending.is_empty() {
            c.pending.reserve(REPLY_BUFFER_BYTES);
            self.dirty.push(conn);
        }
        let buf = &mut c.pending;
        match &output {
            Output::Connected { resp, .. } => codec::encode_connect_response(resp, buf),
            Output::Reply { xid, zxid, result, .. } => {
                let before = buf.len();
                codec::encode_reply(xid.0, zxid.0 as i64, result, buf);
                // ZooKeeper counts the serialized reply, without the frame's length prefix.
                shared.stats.record_response((buf.len() - before).saturating_sub(4));
            }
            Output::Watch { zxid, event, .. } => {
                codec::encode_notification(zxid.0 as i64, event, buf)
            }
            Output::Text { text, .. } => buf.extend_from_slice(text.as_bytes()),
            Output::Close { .. } => {
                self.flush_one(conn, shared);
                self.send(conn, Outbound::Close, shared);
                return;
            }
            _ => unreachable!("route sends only client outputs here"),
        }
        if buf.len() >= PASS_FLUSH_BYTES {
            self.flush_one(conn, shared);
        }
    }

    /// Sends every connection the bytes encoded for it in this pass.
    fn flush(&mut self, shared: &Shared) {
        for conn in std::mem::take(&mut self.dirty) {
            self.flush_one(conn, shared);
        }
    }

    fn flush_one(&mut self, conn: ConnId, shared: &Shared) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if !c.pending.is_empty() {
            let bytes = std::mem::take(&mut c.pending);
            self.send(conn, Outbound::Bytes(bytes), shared);
        }
    }

    /// Queues one message, closing the connection when its unread replies pass the bound
    /// or its queue is full.
    fn send(&mut self, conn: ConnId, msg: Outbound, shared: &Shared) {
        let Some(c) = self.conns.get(&conn) else { return };
        let bytes = match &msg {
            Outbound::Bytes(b) => b.len(),
            Outbound::Close => 0,
        };
        if !c.load.try_queue(bytes, &shared.limits) {
            warn!(
                %conn,
                queued = c.load.queued_bytes(),
                "client is not reading its replies; closing connection"
            );
            self.drop_conn(conn);
            return;
        }
        let closing = matches!(msg, Outbound::Close);
        match c.out.try_send(msg) {
            Ok(()) if closing => self.drop_conn(conn),
            Ok(()) => {}
            Err(e) => {
                // Full (many frames unread) or the writer ended: dropping the sender makes
                // the connection task close the socket; it then reports ClientClosed.
                c.load.written(bytes, &shared.limits);
                if matches!(e, mpsc::error::TrySendError::Full(_)) {
                    warn!(%conn, "outbound queue full; closing connection");
                } else {
                    debug!(%conn, "connection writer already ended");
                }
                self.drop_conn(conn);
            }
        }
    }

    /// Sends what is encoded, then closes every connection (a full disk: see
    /// [`crate::disk_full`]). They stay known until their ClientClosed, which releases
    /// their share of the outstanding count.
    fn close_all(&mut self, shared: &Shared) {
        self.flush(shared);
        for c in self.conns.values() {
            let _ = c.out.try_send(Outbound::Close);
        }
    }

    fn drop_conn(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
    }
}

/// Session lifecycle at DEBUG, read off the transactions the node logs.
fn log_session_txn(rec: &keeper_core::txn::TxnRecord) {
    match &rec.txn {
        Txn::CreateSession { timeout_ms } => {
            debug!(session = %rec.header.session, timeout_ms, zxid = %rec.header.zxid, "session created")
        }
        Txn::CloseSession => {
            debug!(session = %rec.header.session, zxid = %rec.header.zxid, "session closed or expired")
        }
        _ => {}
    }
}

async fn accept_loop(
    listener: TcpListener,
    inbound: mpsc::Sender<Inbound>,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let mut next_conn = 1u64;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!(error = %e, "accept failed");
                continue;
            }
        };
        let conn = ConnId(next_conn);
        next_conn += 1;
        let _ = stream.set_nodelay(true);
        let (out_tx, out_rx) = mpsc::channel(OUTBOUND_QUEUE);
        let load = Arc::new(ConnLoad::default());
        // ip:port, as ZooKeeper's `cons` shows it; the core takes the IP part for
        // maxClientCnxns and the ip ACL scheme.
        let open = Inbound::Open { conn, addr: peer.to_string(), out: out_tx, load: load.clone() };
        if inbound.send(open).await.is_err() {
            return;
        }
        let link = ConnLink { conn, inbound: inbound.clone(), load, shared: shared.clone() };
        let shutdown = shutdown.clone();
        tokio::spawn(
            async move {
                connection(link, peer, stream, out_rx, shutdown).await;
            }
            .in_current_span(),
        );
    }
}

/// What a connection task needs besides its socket.
struct ConnLink {
    conn: ConnId,
    inbound: mpsc::Sender<Inbound>,
    load: Arc<ConnLoad>,
    shared: Arc<Shared>,
}

/// One client connection: a reader (bytes → inputs) and a writer (queue → socket).
async fn connection(
    link: ConnLink,
    peer: SocketAddr,
    stream: TcpStream,
    out_rx: mpsc::Receiver<Outbound>,
    mut shutdown: watch::Receiver<bool>,
) {
    let conn = link.conn;
    debug!(%conn, %peer, "accepted");
    let (reader, writer) = stream.into_split();
    let mut write_task = tokio::spawn(
        write_loop(writer, out_rx, link.load.clone(), link.shared.limits).in_current_span(),
    );
    tokio::select! {
        reason = read_loop(&link, reader) => {
            debug!(%conn, reason, "reader ended");
        }
        _ = &mut write_task => debug!(%conn, "writer ended"),
        _ = shutdown.changed() => {}
    }
    write_task.abort();
    let _ = link.inbound.send(Inbound::Input(Input::ClientClosed { conn })).await;
}

/// Reads frames until EOF, an error, a frame over the limit, or no handshake in time;
/// returns why it stopped. Each request waits for [`ConnLoad::admit`] before it goes to
/// the node, and nothing more is read meanwhile.
async fn read_loop<R: AsyncReadExt + Unpin>(link: &ConnLink, mut reader: R) -> &'static str {
    let (conn, inbound, shared) = (link.conn, &link.inbound, &*link.shared);
    let handshake_deadline = tokio::time::Instant::now() + shared.limits.handshake_timeout;
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut handshaken = false;
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let read = if handshaken {
            reader.read(&mut chunk).await
        } else {
            match tokio::time::timeout_at(handshake_deadline, reader.read(&mut chunk)).await {
                Ok(read) => read,
                Err(_) => return "no handshake in time",
            }
        };
        let n = match read {
            Ok(0) => return "eof",
            Ok(n) => n,
            Err(_) => return "read error",
        };
        buf.extend_from_slice(&chunk[..n]);
        if !handshaken && buf.len() >= 4 {
            if let Some(cmd) = codec::four_letter_word(&buf[..4]) {
                let input = Input::ClientFourLetter { conn, cmd: cmd.to_string() };
                let _ = inbound.send(Inbound::Input(input)).await;
                // The node answers with Text then Close; stop reading meanwhile.
                std::future::pending::<()>().await;
            }
        }
        let mut inputs = match frames(conn, &mut buf, &mut handshaken, shared.max_buffer_bytes) {
            Ok(inputs) => inputs,
            Err(reason) => return reason,
        };
        // One message per read: the requests the throttle admits at once go together; at a
        // request that must wait, what precedes it is sent first.
        while !inputs.is_empty() {
            let mut admitted = 0;
            for input in &inputs {
                if matches!(input, Input::ClientRequest { .. } | Input::ClientBadRequest { .. }) {
                    if !link.load.may_send(&shared.gate, &shared.limits) {
                        break;
                    }
                    link.load.request_sent(&shared.gate);
                }
                admitted += 1;
            }
            let rest = inputs.split_off(admitted);
            if !inputs.is_empty() && inbound.send(Inbound::Inputs(inputs)).await.is_err() {
                return "server gone";
            }
            inputs = rest;
            if !inputs.is_empty() {
                link.load.admit(&shared.gate, &shared.limits).await;
            }
        }
    }
}

/// Splits every complete frame off the front of `buf` and decodes it into an input.
/// Errors (oversized frame, bad ConnectRequest) end the connection.
fn frames(
    conn: ConnId,
    buf: &mut Vec<u8>,
    handshaken: &mut bool,
    max_buffer_bytes: usize,
) -> Result<Vec<Input>, &'static str> {
    // Room for as many requests as the buffer holds at a typical small request's size, so
    // a read of pipelined reads rarely regrows the vector; at most a pass's worth, so one
    // large request (a 60 KB setData) does not allocate room for a thousand.
    let mut inputs =
        Vec::with_capacity((buf.len() / TYPICAL_REQUEST_FRAME).clamp(1, INPUTS_PER_PASS));
    let mut start = 0;
    let wall_ms = wall_clock_ms();
    loop {
        let len = match codec::frame_len(&buf[start..], max_buffer_bytes) {
            Ok(Some(len)) => len,
            Ok(None) => break,
            Err(declared) => {
                warn!(%conn, declared, max_buffer_bytes, "frame length out of range; closing");
                return Err("frame too large");
            }
        };
        assert!(len >= 4 && start + len <= buf.len(), "frame_len returned a complete frame");
        let body = &buf[start + 4..start + len];
        start += len;
        if !*handshaken {
            let req = codec::decode_connect_request(body).map_err(|_| "bad connect request")?;
            *handshaken = true;
            inputs.push(Input::ClientConnect { conn, req });
            continue;
        }
        inputs.push(match codec::decode_request(body) {
            Ok((xid, req)) => {
                Input::ClientRequest { conn, xid: keeper_core::Xid(xid), req, wall_ms }
            }
            Err(codec::RequestError::BadHeader) => return Err("bad request header"),
            Err(
                codec::RequestError::UnknownOp { xid, op }
                | codec::RequestError::BadBody { xid, op },
            ) => Input::ClientBadRequest { conn, xid: keeper_core::Xid(xid), op },
        });
    }
    buf.drain(..start);
    Ok(inputs)
}

/// Writes queued frames, batching whatever is already queued into one write_all, and
/// tells the connection's load how many bytes left the queue.
async fn write_loop<W: AsyncWriteExt + Unpin>(
    mut writer: W,
    mut out: mpsc::Receiver<Outbound>,
    load: Arc<ConnLoad>,
    limits: Limits,
) {
    let mut batch = Vec::new();
    while let Some(first) = out.recv().await {
        let mut close = false;
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                // The first buffer becomes the batch (no copy); later ones are appended.
                Outbound::Bytes(bytes) if batch.is_empty() => batch = bytes,
                Outbound::Bytes(bytes) => batch.extend_from_slice(&bytes),
                Outbound::Close => {
                    close = true;
                    break;
                }
            }
            next = out.try_recv().ok();
        }
        let written = writer.write_all(&batch).await;
        load.written(batch.len(), &limits);
        if written.is_err() {
            return;
        }
        batch.clear();
        if close {
            let _ = writer.shutdown().await;
            return;
        }
    }
}

/// Milliseconds since the Unix epoch, for `Tick` and request stamps.
pub fn wall_clock_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests;
