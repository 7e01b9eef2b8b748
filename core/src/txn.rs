//! Replicated transactions: what a write request becomes once validated.
//!
//! A `TxnRecord` is the unit that is logged, replicated and applied. Applying the same
//! sequence of records to the same tree gives the same tree on every server, so a record
//! carries everything the apply step needs (the final sequential name, the stored
//! ephemeralOwner, the parent's new cversion) and the apply step never consults anything
//! but the tree. Mirrors ZooKeeper's `TxnHeader` plus the `*Txn` records of zookeeper.jute.
//! A write that fails validation still becomes a record (`Txn::Error`) and consumes a zxid,
//! as in ZooKeeper.

use bytes::Bytes;

use crate::ids::{SessionId, Zxid};
use crate::proto::Acl;

/// The header every transaction carries (`TxnHeader`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TxnHeader {
    /// The session that issued the request (`clientId`).
    pub session: SessionId,
    /// The request's xid (`cxid`).
    pub cxid: i32,
    /// The zxid assigned to this transaction.
    pub zxid: Zxid,
    /// Wall-clock ms stamped by the leader when it prepared the txn; becomes ctime/mtime.
    pub time_ms: i64,
}

/// One transaction body.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Txn {
    /// A new global session (`CreateSessionTxn`).
    CreateSession { timeout_ms: i32 },
    /// Session close or expiry: deletes every ephemeral the session owns, in path order.
    CloseSession,
    /// Any create (`CreateTxn`, `CreateContainerTxn`, `CreateTTLTxn`). `path` is final
    /// (sequence suffix applied). `ephemeral_owner` is the stored value: 0, the session id,
    /// `CONTAINER_OWNER`, or `TTL_OWNER_MASK | ttl`.
    Create {
        path: String,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        ephemeral_owner: i64,
        parent_cversion: i32,
    },
    /// A delete (`DeleteTxn`), also used for container and TTL reaping.
    Delete { path: String },
    /// setData (`SetDataTxn`): `version` is the node's new version.
    SetData { path: String, data: Option<Bytes>, version: i32 },
    /// setACL (`SetACLTxn`): `version` is the node's new aversion.
    SetAcl { path: String, acl: Vec<Acl>, version: i32 },
    /// check inside a multi (`CheckVersionTxn`): changes nothing.
    Check { path: String, version: i32 },
    /// A failed write (`ErrorTxn`), or a failed sub-op inside a failed multi.
    Error { err: i32 },
    /// A multi (`MultiTxn`): all sub-txns, or, if any failed, Error for each.
    Multi(Vec<Txn>),
}

/// A transaction with its header: the unit logged and replicated.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TxnRecord {
    pub header: TxnHeader,
    pub txn: Txn,
}

/// Stored ephemeralOwner of a container node (`EphemeralType.CONTAINER`).
pub const CONTAINER_OWNER: i64 = i64::MIN; // 0x8000_0000_0000_0000
/// High byte marking a TTL node's stored ephemeralOwner; the low 40 bits carry the ttl.
pub const TTL_OWNER_MASK: i64 = 0xFF00_0000_0000_0000_u64 as i64;
/// Largest ttl a TTL node may carry (2^40 - 1 ms).
pub const TTL_MAX_MS: i64 = (1 << 40) - 1;
