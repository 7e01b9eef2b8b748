//! The znode tree (`DataTree`): nodes, Stat bookkeeping, and applying transactions.
//!
//! CONTRACT STUB — the signatures below are the interface the node is written against;
//! bodies are filled in by the data-model work.

use crate::ids::{SessionId, Zxid};
use crate::proto::{Acl, Stat};
use crate::txn::TxnRecord;
use crate::wire::jute::{DecodeResult, Reader, Writer};
use bytes::Bytes;

/// What a transaction did to one path, for the watch manager. ChildrenChanged of the parent
/// is implied by Created and Deleted.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Change {
    Created(String),
    Deleted(String),
    DataChanged(String),
}

/// The outcome of applying one transaction, from which the node builds the reply.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TxnResult {
    Created { path: String, stat: Stat },
    Deleted,
    DataSet { stat: Stat },
    AclSet { stat: Stat },
    Checked,
    Error { err: i32 },
    Multi(Vec<TxnResult>),
    SessionCreated,
    SessionClosed,
}

/// The result of `DataTree::apply`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Applied {
    pub result: TxnResult,
    pub changes: Vec<Change>,
}

/// A read-only view of one node.
pub struct NodeView<'a> {
    pub data: &'a Bytes,
    pub acl: &'a [Acl],
    pub stat: Stat,
}

/// The znode tree.
#[derive(Clone, Debug, Default)]
pub struct DataTree {}

impl DataTree {
    pub fn new() -> DataTree {
        todo!()
    }
    pub fn last_zxid(&self) -> Zxid {
        todo!()
    }
    pub fn node_count(&self) -> usize {
        todo!()
    }
    pub fn get(&self, _path: &str) -> Option<NodeView<'_>> {
        todo!()
    }
    pub fn children(&self, _path: &str) -> Option<Vec<String>> {
        todo!()
    }
    pub fn apply(&mut self, _rec: &TxnRecord) -> Applied {
        todo!()
    }
    pub fn ephemerals(&self, _session: SessionId) -> Vec<String> {
        todo!()
    }
    pub fn ephemeral_sessions(&self) -> Vec<(SessionId, Vec<String>)> {
        todo!()
    }
    pub fn ephemeral_count(&self) -> usize {
        todo!()
    }
    pub fn container_candidates(&self, _now_ms: i64, _limit: usize) -> Vec<String> {
        todo!()
    }
    pub fn digest(&self) -> u64 {
        todo!()
    }
    pub fn approximate_data_size(&self) -> u64 {
        todo!()
    }
    pub fn encode_snapshot(&self, _w: &mut Writer) {
        todo!()
    }
    pub fn decode_snapshot(_r: &mut Reader<'_>) -> DecodeResult<DataTree> {
        todo!()
    }
}
