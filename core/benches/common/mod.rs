//! What the core's benchmarks share: the key names and the create records of the
//! `keeper bench --workload create` shape (100-byte znodes under `/bench`, open ACL).
//!
//! Invariant: `key(i)` sorts in `i` order (eight digits, zero-padded), so trees built from
//! `key(0..n)` are in path order, as a load builds them.

use bytes::Bytes;
use keeper_core::ids::{SessionId, Zxid};
use keeper_core::proto::Acl;
use keeper_core::txn::{Txn, TxnHeader, TxnRecord};

/// The `i`th key znode's path.
pub fn key(i: u64) -> String {
    format!("/bench/k{i:08}")
}

/// `txn` as applied by session 1 at `zxid`.
pub fn record(zxid: u64, txn: Txn) -> TxnRecord {
    TxnRecord {
        header: TxnHeader { session: SessionId(1), cxid: 1, zxid: Zxid(zxid), time_ms: 1 },
        txn,
    }
}

/// A persistent create of `path` with 100 bytes of data.
pub fn create(path: String) -> Txn {
    Txn::Create {
        path,
        data: Some(Bytes::from(vec![b'x'; 100])),
        acl: Acl::open_unsafe(),
        ephemeral_owner: 0,
        parent_cversion: 0,
    }
}
