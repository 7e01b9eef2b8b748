//! Messages between the servers of an ensemble: fast leader election's notifications and
//! Zab's discovery, synchronisation and broadcast packets (ZooKeeper's `QuorumPacket`
//! types), plus the forwarding of client work from learners to the leader.
//!
//! The core assumes what TCP gives ZooKeeper: between two servers, messages of one
//! connection arrive in order, without gaps or duplicates, or the connection breaks and
//! the driver reports `PeerDown`. Every packet a learner receives after a break belongs to
//! a fresh connection, so it starts over with `LearnerInfo`. Invariant: a message carries
//! everything its receiver needs; nothing refers to state the receiver cannot have.

use bytes::Bytes;

use crate::acl::AuthContext;
use crate::election::Notification;
use crate::ids::{SessionId, Zxid};
use crate::proto::Request;
use crate::txn::TxnRecord;

/// Client work a learner hands to its leader (ZooKeeper's `REQUEST` packet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Forward {
    /// A write from a client of the learner, with the connection's identities for ACLs.
    Write { session: SessionId, cxid: i32, auth: AuthContext, req: Request, wall_ms: u64 },
    /// A new session the learner created an id for (createSession is a transaction).
    CreateSession { session: SessionId, timeout_ms: i32 },
    /// A client's closeSession.
    CloseSession { session: SessionId, cxid: i32 },
    /// `sync()`: the leader answers once every proposal before it has been sent.
    Sync { session: SessionId, cxid: i32 },
}

/// One message between two servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerMsg {
    /// A fast-leader-election notification.
    Vote(Notification),
    /// Learner → leader, first on every connection: FOLLOWERINFO / OBSERVERINFO.
    LearnerInfo { accepted_epoch: u32, last_zxid: Zxid, observer: bool },
    /// Leader → learner: the epoch the leader proposes (LEADERINFO).
    LeaderInfo { epoch: u32 },
    /// Learner → leader: the learner accepted the epoch (ACKEPOCH), with its history.
    AckEpoch { current_epoch: u32, last_zxid: Zxid },
    /// Leader → learner: the records after `after` follow as `Proposal`s (DIFF).
    Diff { after: Zxid },
    /// Leader → learner: replace your state with this snapshot image (SNAP). The learner
    /// drops any logged record above `zxid`, which is how a divergent suffix is truncated.
    Snap { zxid: Zxid, image: Bytes },
    /// A transaction: during sync part of the leader's history, afterwards a proposal that
    /// waits for its `Commit`.
    Proposal(TxnRecord),
    /// Leader → follower: every proposal up to `zxid` is committed.
    Commit(Zxid),
    /// Leader → observer: a committed transaction (INFORM).
    Inform(TxnRecord),
    /// Leader → learner: the sync is complete; persist `epoch` as currentEpoch and ack.
    NewLeader { epoch: u32 },
    /// Learner → leader: every proposal up to `zxid` is durable (the first one after
    /// `NewLeader` acknowledges it).
    Ack { zxid: Zxid },
    /// Leader → learner: a quorum has synced; start serving. Everything up to `committed`
    /// is committed.
    UpToDate { committed: Zxid },
    /// Leader → learner heartbeat.
    Ping,
    /// Learner → leader: the sessions its clients touched since the last pong.
    Pong { touched: Vec<SessionId> },
    /// Learner → leader: client work.
    Forward(Forward),
    /// Leader → learner: the `sync` of (`session`, `cxid`) is ordered after every proposal
    /// sent before this message.
    Synced { session: SessionId, cxid: i32 },
}

impl PeerMsg {
    /// A short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            PeerMsg::Vote(_) => "vote",
            PeerMsg::LearnerInfo { .. } => "learnerinfo",
            PeerMsg::LeaderInfo { .. } => "leaderinfo",
            PeerMsg::AckEpoch { .. } => "ackepoch",
            PeerMsg::Diff { .. } => "diff",
            PeerMsg::Snap { .. } => "snap",
            PeerMsg::Proposal(_) => "proposal",
            PeerMsg::Commit(_) => "commit",
            PeerMsg::Inform(_) => "inform",
            PeerMsg::NewLeader { .. } => "newleader",
            PeerMsg::Ack { .. } => "ack",
            PeerMsg::UpToDate { .. } => "uptodate",
            PeerMsg::Ping => "ping",
            PeerMsg::Pong { .. } => "pong",
            PeerMsg::Forward(_) => "forward",
            PeerMsg::Synced { .. } => "synced",
        }
    }
}
