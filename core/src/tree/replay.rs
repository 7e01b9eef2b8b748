//! Replaying a log over a *fuzzy* snapshot, as ZooKeeper's `FileTxnSnapLog` does on load.
//!
//! ZooKeeper writes a snapshot while transactions keep being applied, so a snapshot named
//! after zxid Z may already hold effects of transactions after Z; replaying the log from
//! Z + 1 then meets creates of nodes that exist. ZooKeeper treats such a create as done
//! and only moves the parent's cversion and pzxid forward (the parent may have been written
//! to the snapshot before the child was created). Invariant: a replayed record changes the
//! tree exactly as `apply` does, plus that one parent fix-up; it never panics on a record
//! that does not fit the tree.

use super::{Applied, DataTree, TxnResult};
use crate::error::KeeperError;
use crate::path;
use crate::txn::{Txn, TxnRecord};

impl DataTree {
    /// Applies a record read from a ZooKeeper log after a possibly fuzzy snapshot.
    pub fn apply_replayed(&mut self, rec: &TxnRecord) -> Applied {
        let applied = self.apply(rec);
        let node_exists = KeeperError::NodeExists.code();
        if let (Txn::Create { path: p, parent_cversion, .. }, TxnResult::Error { err }) =
            (&rec.txn, &applied.result)
        {
            if *err == node_exists && p != "/" {
                let zxid = rec.header.zxid.as_i64();
                // A parent that vanished since is no error on replay: nothing to adjust.
                let _ = self.update(path::parent(p), |parent| {
                    let wanted = if *parent_cversion == -1 {
                        parent.stat.cversion.wrapping_add(1)
                    } else {
                        *parent_cversion
                    };
                    if parent.stat.cversion < wanted {
                        parent.stat.cversion = wanted;
                        parent.stat.pzxid = zxid;
                    }
                });
            }
        }
        applied
    }
}
