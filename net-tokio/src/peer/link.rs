//! One peer link: the hello on an accepted connection, then a reader (frames → events)
//! and a writer (queue → socket) until either ends.
//!
//! Liveness: with [`PeerConfig::idle`] set, a link on which nothing (not even a keepalive)
//! arrives for that long is broken and reported down, so a half-open TCP connection (a
//! peer host that vanished, a cable pulled) never holds a member. Each end writes its
//! hello again as a keepalive after a third of that time without other writes; a hello
//! after the first is accepted only from the same server and otherwise ignored.
//!
//! Invariant: a link announces itself (`PeerEvent::Up`) before any of its messages and
//! reports `PeerEvent::Down` after the last, all on the same channel, so the node task sees
//! them in that order; the link ends when the node task drops its sender.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use keeper_core::peer_codec::{self, PeerFrame};
use keeper_core::ServerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{LinkOut, PeerConfig, PeerEvent, HANDSHAKE_TIMEOUT, LINK_QUEUE_FRAMES};

/// Bytes read from a socket at once.
const READ_CHUNK: usize = 64 * 1024;
/// A hello is small: its frame may not be larger than this.
const MAX_HELLO: usize = 64 * 1024;

/// Reads the hello that opens an accepted connection and checks it; returns the peer's
/// id, the stream, and any bytes read past the hello.
pub(super) async fn read_hello(
    mut stream: TcpStream,
    cfg: &PeerConfig,
) -> Result<(ServerId, TcpStream, Vec<u8>), String> {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        match peer_codec::decode_next(&buf, MAX_HELLO) {
            Ok(Some((PeerFrame::Hello(h), used))) => {
                let id = cfg.check_hello(&h)?;
                return Ok((id, stream, buf.split_off(used)));
            }
            Ok(Some((PeerFrame::Msg(m), _))) => {
                return Err(format!("first frame is {}, not a hello", m.kind()))
            }
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Err("no hello in time".into()),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(0)) => return Err("closed before its hello".into()),
            Ok(Ok(n)) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Runs one link to `id` until it breaks; `initial` holds bytes already read from it.
pub async fn run_link(
    id: ServerId,
    generation: u64,
    stream: TcpStream,
    initial: Vec<u8>,
    cfg: &PeerConfig,
    events: &mpsc::Sender<PeerEvent>,
) {
    let (tx, rx) = mpsc::channel(LINK_QUEUE_FRAMES);
    let queued = Arc::new(AtomicUsize::new(0));
    let out = LinkOut { generation, tx, queued: queued.clone() };
    if events.send(PeerEvent::Up { id, out }).await.is_err() {
        return;
    }
    let (reader, writer) = stream.into_split();
    let keepalive = cfg.idle.map(|idle| {
        let mut frame = Vec::new();
        peer_codec::encode_hello(&cfg.hello_to(id), &mut frame);
        (idle / 3, frame)
    });
    let why = tokio::select! {
        why = read_loop(id, generation, reader, initial, cfg, events) => why,
        why = write_loop(writer, rx, queued, keepalive) => why,
    };
    debug!(peer = %id, generation, why, "peer link ended");
    let _ = events.send(PeerEvent::Down { id, generation }).await;
}

async fn read_loop(
    id: ServerId,
    generation: u64,
    mut reader: tokio::net::tcp::OwnedReadHalf,
    mut buf: Vec<u8>,
    cfg: &PeerConfig,
    events: &mpsc::Sender<PeerEvent>,
) -> String {
    let max_frame = cfg.max_frame;
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let mut start = 0;
        loop {
            match peer_codec::decode_next(&buf[start..], max_frame) {
                Ok(Some((PeerFrame::Msg(msg), used))) => {
                    start += used;
                    if events.send(PeerEvent::Msg { id, generation, msg }).await.is_err() {
                        return "server gone".into();
                    }
                }
                Ok(Some((PeerFrame::Hello(h), used))) => {
                    if h.from != id || h.to != cfg.me {
                        return format!("a hello from {} to {} on this link", h.from, h.to);
                    }
                    start += used; // a keepalive
                }
                Ok(None) => break,
                Err(e) => {
                    warn!(peer = %id, "bad frame from peer: {e}; breaking the link");
                    return e.to_string();
                }
            }
        }
        buf.drain(..start);
        let read = reader.read(&mut chunk);
        let read = match cfg.idle {
            Some(idle) => match tokio::time::timeout(idle, read).await {
                Ok(r) => r,
                Err(_) => {
                    warn!(peer = %id, "nothing heard from the peer for {idle:?}; breaking the link");
                    return format!("idle for {idle:?}");
                }
            },
            None => read.await,
        };
        match read {
            Ok(0) => return "eof".into(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return e.to_string(),
        }
    }
}

async fn write_loop(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    keepalive: Option<(std::time::Duration, Vec<u8>)>,
) -> String {
    let mut batch = Vec::new();
    loop {
        let next = match &keepalive {
            Some((every, frame)) => match tokio::time::timeout(*every, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    if let Err(e) = writer.write_all(frame).await {
                        return e.to_string();
                    }
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(first) = next else { break };
        batch.extend_from_slice(&first);
        while batch.len() < READ_CHUNK {
            match rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        let result = writer.write_all(&batch).await;
        queued.fetch_sub(batch.len(), Ordering::AcqRel);
        batch.clear();
        if let Err(e) = result {
            return e.to_string();
        }
    }
    let _ = writer.shutdown().await;
    "closed by this server".into()
}
