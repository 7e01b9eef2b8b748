//! Everything a node asks the outside world to do. Each output prints as one line.

use std::fmt;

use bytes::Bytes;

use crate::ids::{ConnId, PersistSeq, Xid, Zxid};
use crate::proto::{ConnectResponse, ReplyResult, WatchedEvent};
use crate::txn::TxnRecord;

/// A write the node needs made durable before it promises anything that depends on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurableWrite {
    /// Append one transaction to the log.
    Append(TxnRecord),
    /// Write a snapshot image of the state at `zxid` (encoded by `persist::snapshot`),
    /// after which log files wholly before it may be purged.
    Snapshot { zxid: Zxid, image: Bytes },
}

/// Role changes, for status, metrics and traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Standalone,
    Looking,
    Leader,
    Follower,
    Observer,
    ReadOnly,
}

impl Mode {
    /// The word ZooKeeper's `srvr` prints after `Mode: `.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Looking => "looking",
            Mode::Leader => "leader",
            Mode::Follower => "follower",
            Mode::Observer => "observer",
            Mode::ReadOnly => "read-only",
        }
    }
}

/// One thing for the driver to do, drained from [`crate::node::Node::poll`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Make `write` durable, in `seq` order, then report `Persisted`.
    Persist { seq: PersistSeq, write: DurableWrite },
    /// Send the handshake answer.
    Connected { conn: ConnId, resp: ConnectResponse },
    /// Send a reply.
    Reply { conn: ConnId, xid: Xid, zxid: Zxid, result: ReplyResult },
    /// Send a watch notification (xid -1). `zxid` is the txn that fired it.
    Watch { conn: ConnId, zxid: Zxid, event: WatchedEvent },
    /// Send four-letter-word text; a `Close` follows.
    Text { conn: ConnId, text: String },
    /// Close the connection once everything queued before this is written.
    Close { conn: ConnId },
    /// The node's role changed.
    Role(Mode),
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Persist { seq, write: DurableWrite::Append(r) } => {
                write!(f, "persist seq={seq} append {} {:?}", r.header.zxid, r.txn)
            }
            Output::Persist { seq, write: DurableWrite::Snapshot { zxid, image } } => {
                write!(f, "persist seq={seq} snapshot {zxid} ({} bytes)", image.len())
            }
            Output::Connected { conn, resp } => write!(
                f,
                "{conn} connected session={} timeout={}",
                resp.session_id, resp.timeout_ms
            ),
            Output::Reply { conn, xid, zxid, result } => match result {
                Ok(r) => write!(f, "{conn} reply xid={xid} zxid={zxid} {r:?}"),
                Err(e) => write!(f, "{conn} reply xid={xid} zxid={zxid} err={}", e.code()),
            },
            Output::Watch { conn, zxid, event } => {
                write!(f, "{conn} watch zxid={zxid} {:?} {}", event.event_type, event.path)
            }
            Output::Text { conn, text } => write!(f, "{conn} text {} bytes", text.len()),
            Output::Close { conn } => write!(f, "{conn} close"),
            Output::Role(m) => write!(f, "role {}", m.as_str()),
        }
    }
}
