//! Durable formats: the transaction log and snapshot files as bytes. CONTRACT STUB.
//!
//! Pure encoding and decoding only; the shells own the files and fsyncs.

use crate::ids::{SessionId, Zxid};
use crate::tree::DataTree;
use crate::txn::TxnRecord;

/// A decoded snapshot: the state as of `zxid`.
#[derive(Debug)]
pub struct SnapshotState {
    pub zxid: Zxid,
    /// Open sessions and their negotiated timeouts, sorted by id.
    pub sessions: Vec<(SessionId, i32)>,
    pub tree: DataTree,
}

/// What a node is handed on start: its newest valid snapshot and the log after it.
#[derive(Debug, Default)]
pub struct Recovered {
    pub snapshot: Option<SnapshotState>,
    /// Records with zxid above the snapshot's, in zxid order.
    pub log: Vec<TxnRecord>,
}

/// Encodes a snapshot file image (header, sessions, tree, checksum).
pub fn encode_snapshot(zxid: Zxid, sessions: &[(SessionId, i32)], tree: &DataTree) -> Vec<u8> {
    let _ = (zxid, sessions, tree);
    todo!()
}
