//! Everything a node asks the outside world to do. Each output prints as one line.

use std::fmt;

use bytes::Bytes;

use crate::ids::{ConnId, PersistSeq, ServerId, Xid, Zxid};
use crate::peer::PeerMsg;
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
    /// Drop every logged record above `to`, and every snapshot labelled above it: the
    /// node's history ends at `to` (a learner's divergent suffix, found at sync).
    Truncate { to: Zxid },
    /// Record acceptedEpoch (ZooKeeper's `acceptedEpoch` file).
    AcceptedEpoch(u32),
    /// Record currentEpoch (ZooKeeper's `currentEpoch` file).
    CurrentEpoch(u32),
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
    /// Send a message to another server.
    Send { to: ServerId, msg: PeerMsg },
    /// Something happened inside the protocol that checkers and fault triggers watch for;
    /// a real server may log it and otherwise ignores it.
    Event(ProtocolEvent),
}

/// Observable protocol steps (for the simulator's checkers and event-triggered faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolEvent {
    /// The node's tree now holds the txn `zxid`; `digest` is the tree's digest after it.
    Applied { zxid: Zxid, digest: u64 },
    /// The node's tree was replaced by a snapshot of the leader's at `zxid`.
    Snapped { zxid: Zxid, digest: u64 },
    /// The node started from its disk with its tree at `zxid`.
    Recovered { zxid: Zxid, digest: u64 },
    /// The node leads `epoch`: a quorum acknowledged NEWLEADER.
    Established { epoch: u32 },
    /// The leader committed every proposal up to `zxid`.
    Committed { zxid: Zxid },
    /// The node left its role and is looking for a leader.
    Looking { last_zxid: Zxid },
    /// The node's active configuration changed to the one with this version (the zxid
    /// of its reconfig transaction). The driver reads it with `Node::ensemble` to write
    /// `zoo.cfg.dynamic.<version in hex>` and to connect to new members / drop removed
    /// ones.
    Reconfigured { version: Zxid },
}

impl Output {
    /// The client connection this output goes to; `None` for persistence, peer messages,
    /// role changes and protocol events.
    pub fn client_conn(&self) -> Option<ConnId> {
        match self {
            Output::Connected { conn, .. }
            | Output::Reply { conn, .. }
            | Output::Watch { conn, .. }
            | Output::Text { conn, .. }
            | Output::Close { conn } => Some(*conn),
            Output::Persist { .. } | Output::Role(_) | Output::Send { .. } | Output::Event(_) => {
                None
            }
        }
    }
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
            Output::Persist { seq, write: DurableWrite::Truncate { to } } => {
                write!(f, "persist seq={seq} truncate to {to}")
            }
            Output::Persist { seq, write: DurableWrite::AcceptedEpoch(e) } => {
                write!(f, "persist seq={seq} acceptedEpoch {e}")
            }
            Output::Persist { seq, write: DurableWrite::CurrentEpoch(e) } => {
                write!(f, "persist seq={seq} currentEpoch {e}")
            }
            Output::Role(m) => write!(f, "role {}", m.as_str()),
            Output::Send { to, msg } => write!(f, "send to={to} {}", short(msg)),
            Output::Event(e) => write!(f, "event {e:?}"),
        }
    }
}

/// A one-line rendering of a peer message for traces (snapshot images by size only).
fn short(msg: &PeerMsg) -> String {
    match msg {
        PeerMsg::Snap { zxid, image } => format!("snap {zxid} ({} bytes)", image.len()),
        PeerMsg::Proposal(r) | PeerMsg::Inform(r) => {
            format!("{} {} {:?}", msg.kind(), r.header.zxid, r.txn)
        }
        other => format!("{other:?}"),
    }
}
