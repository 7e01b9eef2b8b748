//! The client-port server: one task owns the [`Node`], one task per connection frames bytes.
//!
//! Invariant: no protocol decision is made here (STYLE.md §11). The node task waits for an
//! input (a decoded client message, a tick, a storage completion or shutdown), hands it to
//! [`Node::handle`], drains [`Node::poll`] and routes each output: `Persist` to the storage
//! writer, client outputs as encoded frames to the connection's bounded outbound queue.
//! Every queue is bounded: a client that stops reading its replies fills its queue and is
//! closed rather than growing server memory (mini-redis's shape, with a drop policy).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keeper_core::config::Config;
use keeper_core::output::DurableWrite;
use keeper_core::txn::Txn;
use keeper_core::wire::codec;
use keeper_core::{ConnId, Input, KeeperError, Node, Output, PersistSeq};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn, Instrument};

use crate::stats::ShellStats;

/// Inputs waiting for the node task; past it, connection readers wait (backpressure).
pub const INBOUND_QUEUE: usize = 4096;
/// Frames waiting to be written to one client; past it, the connection is closed.
pub const OUTBOUND_QUEUE: usize = 1024;
/// Bytes read from a socket at once.
const READ_CHUNK: usize = 64 * 1024;

/// The storage side of the node task: where `Persist` outputs go and where durable
/// sequence numbers come back. The storage writer thread holds the other ends.
pub struct StorageLink {
    /// Numbered writes, in order, for the writer.
    pub persist: mpsc::UnboundedSender<(PersistSeq, DurableWrite)>,
    /// Cumulative durable sequence numbers reported by the writer.
    pub persisted: mpsc::UnboundedReceiver<PersistSeq>,
}

/// One message to a connection task.
enum Outbound {
    /// Encoded frames (or 4lw text) to write.
    Bytes(Vec<u8>),
    /// Close after writing everything queued before.
    Close,
}

/// Runs the client server until `shutdown` becomes true: accepts on `listener`, drives
/// `node`, ticks every `config.tick_ms`. Tests bind 127.0.0.1:0 and pass the listener.
pub async fn run(
    config: Config,
    node: Node,
    listener: TcpListener,
    storage: StorageLink,
    shutdown: watch::Receiver<bool>,
) {
    let (_handle, inbox) = node_channel();
    run_with(config, node, listener, storage, inbox, Arc::default(), shutdown).await
}

/// [`run`] with the node task's inbox made beforehand (so the admin endpoints hold a
/// [`NodeHandle`] to it) and the shell's statistics to update.
pub async fn run_with(
    config: Config,
    node: Node,
    listener: TcpListener,
    storage: StorageLink,
    inbox: NodeInbox,
    stats: Arc<ShellStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let NodeInbox { tx, rx } = inbox;
    let acceptor =
        tokio::spawn(accept_loop(listener, tx, config.max_buffer_bytes, shutdown.clone()));
    node_loop(config, node, rx, storage, &stats, &mut shutdown).await;
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
/// outbound queue so the node task can route replies; or a query from the admin side.
enum Inbound {
    Open { conn: ConnId, addr: String, out: mpsc::Sender<Outbound> },
    Input(Input),
    Query(Query),
}

async fn node_loop(
    config: Config,
    mut node: Node,
    mut inbound: mpsc::Receiver<Inbound>,
    mut storage: StorageLink,
    stats: &ShellStats,
    shutdown: &mut watch::Receiver<bool>,
) {
    assert!(config.tick_ms > 0, "tickTime is validated by zoocfg");
    let mut ticker = tokio::time::interval(Duration::from_millis(config.tick_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut conns: BTreeMap<ConnId, mpsc::Sender<Outbound>> = BTreeMap::new();
    loop {
        let input = tokio::select! {
            Some(msg) = inbound.recv() => match msg {
                Inbound::Open { conn, addr, out } => {
                    conns.insert(conn, out);
                    Input::ClientOpen { conn, addr }
                }
                Inbound::Input(input) => input,
                Inbound::Query(query) => {
                    query(&mut node);
                    continue;
                }
            },
            _ = ticker.tick() => Input::Tick { wall_ms: wall_clock_ms() },
            Some(seq) = storage.persisted.recv() => Input::Persisted { up_to: seq },
            _ = shutdown.changed() => break,
        };
        if let Input::ClientClosed { conn } = &input {
            conns.remove(conn);
        }
        node.handle(input);
        while let Some(output) = node.poll() {
            route(output, &mut conns, &storage, stats);
        }
    }
    info!("client server shutting down");
}

/// Carries out one output. Encoding lives in core; this only picks the queue.
fn route(
    output: Output,
    conns: &mut BTreeMap<ConnId, mpsc::Sender<Outbound>>,
    storage: &StorageLink,
    stats: &ShellStats,
) {
    let (conn, msg) = match output {
        Output::Persist { seq, write } => {
            if let DurableWrite::Append(rec) = &write {
                log_session_txn(rec);
            }
            // A dead writer means storage failed; the writer itself ends the process.
            if storage.persist.send((seq, write)).is_err() {
                warn!("storage writer is gone; dropping persist seq={seq}");
            }
            return;
        }
        Output::Role(mode) => {
            info!(mode = mode.as_str(), "role changed");
            return;
        }
        Output::Event(e) => {
            tracing::trace!(?e, "protocol event");
            return;
        }
        Output::Send { to, msg } => {
            // Startup refuses ensemble configurations until the peer transport exists, so
            // a standalone node never addresses a peer.
            warn!(%to, kind = msg.kind(), "no peer transport; message dropped");
            return;
        }
        Output::Connected { conn, resp } => {
            let mut buf = Vec::new();
            codec::encode_connect_response(&resp, &mut buf);
            (conn, Outbound::Bytes(buf))
        }
        Output::Reply { conn, xid, zxid, result } => {
            if matches!(result, Err(KeeperError::AuthFailed)) {
                stats.record_auth_failed();
            }
            let mut buf = Vec::new();
            codec::encode_reply(xid.0, zxid.0 as i64, &result, &mut buf);
            // ZooKeeper counts the serialized reply, without the frame's length prefix.
            stats.record_response(buf.len().saturating_sub(4));
            (conn, Outbound::Bytes(buf))
        }
        Output::Watch { conn, zxid, event } => {
            let mut buf = Vec::new();
            codec::encode_notification(zxid.0 as i64, &event, &mut buf);
            (conn, Outbound::Bytes(buf))
        }
        Output::Text { conn, text } => (conn, Outbound::Bytes(text.into_bytes())),
        Output::Close { conn } => (conn, Outbound::Close),
    };
    let Some(out) = conns.get(&conn) else {
        debug!(%conn, "output for a connection already gone");
        return;
    };
    let closing = matches!(msg, Outbound::Close);
    if out.try_send(msg).is_err() {
        // Full (the client is not reading) or the writer ended: dropping the sender makes
        // the connection task close the socket; it then reports ClientClosed.
        warn!(%conn, "outbound queue full or closed; closing connection");
        conns.remove(&conn);
    } else if closing {
        conns.remove(&conn);
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
    max_buffer_bytes: usize,
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
        // ip:port, as ZooKeeper's `cons` shows it; the core takes the IP part for
        // maxClientCnxns and the ip ACL scheme.
        let open = Inbound::Open { conn, addr: peer.to_string(), out: out_tx };
        if inbound.send(open).await.is_err() {
            return;
        }
        let inbound = inbound.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(
            async move {
                connection(conn, peer, stream, inbound, out_rx, max_buffer_bytes, shutdown).await;
            }
            .in_current_span(),
        );
    }
}

/// One client connection: a reader (bytes → inputs) and a writer (queue → socket).
async fn connection(
    conn: ConnId,
    peer: SocketAddr,
    stream: TcpStream,
    inbound: mpsc::Sender<Inbound>,
    out_rx: mpsc::Receiver<Outbound>,
    max_buffer_bytes: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    debug!(%conn, %peer, "accepted");
    let (reader, writer) = stream.into_split();
    let mut write_task = tokio::spawn(write_loop(writer, out_rx).in_current_span());
    tokio::select! {
        reason = read_loop(conn, reader, &inbound, max_buffer_bytes) => {
            debug!(%conn, reason, "reader ended");
        }
        _ = &mut write_task => debug!(%conn, "writer ended"),
        _ = shutdown.changed() => {}
    }
    write_task.abort();
    let _ = inbound.send(Inbound::Input(Input::ClientClosed { conn })).await;
}

/// Reads frames until EOF, an error, or a frame over the limit; returns why it stopped.
async fn read_loop<R: AsyncReadExt + Unpin>(
    conn: ConnId,
    mut reader: R,
    inbound: &mpsc::Sender<Inbound>,
    max_buffer_bytes: usize,
) -> &'static str {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut handshaken = false;
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let n = match reader.read(&mut chunk).await {
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
        match frames(conn, &mut buf, &mut handshaken, max_buffer_bytes) {
            Ok(inputs) => {
                for input in inputs {
                    if inbound.send(Inbound::Input(input)).await.is_err() {
                        return "server gone";
                    }
                }
            }
            Err(reason) => return reason,
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
    let mut inputs = Vec::new();
    let mut start = 0;
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
            Ok((xid, req)) => Input::ClientRequest {
                conn,
                xid: keeper_core::Xid(xid),
                req,
                wall_ms: wall_clock_ms(),
            },
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

/// Writes queued frames, batching whatever is already queued into one write_all.
async fn write_loop<W: AsyncWriteExt + Unpin>(mut writer: W, mut out: mpsc::Receiver<Outbound>) {
    let mut batch = Vec::new();
    while let Some(first) = out.recv().await {
        let mut close = false;
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Outbound::Bytes(bytes) => batch.extend_from_slice(&bytes),
                Outbound::Close => {
                    close = true;
                    break;
                }
            }
            next = out.try_recv().ok();
        }
        if writer.write_all(&batch).await.is_err() {
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
mod tests {
    use super::*;

    fn storage() -> (StorageLink, mpsc::UnboundedReceiver<(PersistSeq, DurableWrite)>) {
        let (persist, persist_rx) = mpsc::unbounded_channel();
        let (_done, persisted) = mpsc::unbounded_channel();
        (StorageLink { persist, persisted }, persist_rx)
    }

    /// A client that does not read fills its bounded queue and is dropped, not buffered.
    #[test]
    fn full_outbound_queue_closes_the_connection() {
        let (link, _rx) = storage();
        let (tx, _out_rx) = mpsc::channel(2);
        let mut conns = BTreeMap::from([(ConnId(7), tx)]);
        for _ in 0..2 {
            route(
                Output::Text { conn: ConnId(7), text: "x".into() },
                &mut conns,
                &link,
                &ShellStats::new(),
            );
            assert!(conns.contains_key(&ConnId(7)));
        }
        route(
            Output::Text { conn: ConnId(7), text: "x".into() },
            &mut conns,
            &link,
            &ShellStats::new(),
        );
        assert!(!conns.contains_key(&ConnId(7)));
    }

    /// Text then Close: the socket gets the text and is then shut down (4lw behaviour).
    #[tokio::test]
    async fn text_then_close_is_written_then_shut_down() {
        let (link, _rx) = storage();
        let (tx, out_rx) = mpsc::channel(8);
        let mut conns = BTreeMap::from([(ConnId(1), tx)]);
        route(
            Output::Text { conn: ConnId(1), text: "imok".into() },
            &mut conns,
            &link,
            &ShellStats::new(),
        );
        route(Output::Close { conn: ConnId(1) }, &mut conns, &link, &ShellStats::new());
        assert!(conns.is_empty(), "a closed connection gets no more outputs");
        let (client, server) = tokio::io::duplex(64);
        write_loop(server, out_rx).await;
        let mut client = client;
        let mut text = String::new();
        client.read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "imok");
    }

    /// Outputs for unknown connections are dropped quietly; storage gets Persist in order.
    #[test]
    fn persist_goes_to_storage_in_order() {
        let (link, mut rx) = storage();
        let mut conns = BTreeMap::new();
        for seq in 1..=3 {
            let write =
                DurableWrite::Snapshot { zxid: keeper_core::Zxid(seq), image: bytes::Bytes::new() };
            route(
                Output::Persist { seq: PersistSeq(seq), write },
                &mut conns,
                &link,
                &ShellStats::new(),
            );
        }
        route(Output::Close { conn: ConnId(9) }, &mut conns, &link, &ShellStats::new());
        let seqs: Vec<u64> = std::iter::from_fn(|| rx.try_recv().ok()).map(|(s, _)| s.0).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
    }
}
