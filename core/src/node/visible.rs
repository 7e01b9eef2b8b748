//! Early reads: answering a read before the disk (and, in an ensemble, the quorum) has
//! caught up with every transaction in the tree, when the answer cannot depend on them.
//!
//! The tree runs ahead of what may be shown: a transaction is applied at once (a leader
//! applies at propose time) but becomes *visible* only when its log record is durable
//! here and it is committed. [`Visibility`] remembers, for every applied transaction that
//! is not visible yet, the paths whose node it changed (the node itself, plus the parent
//! for a create or delete, since the parent's children, cversion and pzxid change; a
//! session's close counts for each ephemeral it deletes; an error txn touches nothing but
//! still holds the visible zxid back), and keeps a `dirty` index of those paths. A read
//! whose answer depends on no dirty path gives the same answer from the current tree as
//! from the state at the visible zxid, so it may leave at once with that zxid in its
//! header: it exposes nothing a crash (or a failed proposal) could take back, and the
//! header never runs ahead of what survives one. A snapshot that replaces the tree (a
//! learner's SNAP) makes everything dirty until it is durable.
//!
//! Invariants: `unsettled` is in zxid order, ends at the tree's zxid, and each entry's
//! zxid is above `settled` (a snapshot's may equal it);
//! a path is in `dirty` exactly when some unsettled entry touched it, with the newest such
//! zxid; `blankets` counts the unsettled whole-tree entries.

use std::collections::{BTreeMap, VecDeque};

use super::Node;
use crate::error::KeeperError;
use crate::ids::{ConnId, Xid, Zxid};
use crate::output::Output;
use crate::proto::{ReplyResult, Request};
use crate::tree::DataTree;
use crate::txn::{Txn, TxnRecord};

/// One applied transaction that is not visible yet.
#[derive(Debug)]
struct Unsettled {
    zxid: Zxid,
    /// The Persist seq that makes it durable here.
    seq: u64,
    /// The paths it touched; `None` when it replaced the whole tree.
    paths: Option<Vec<String>>,
}

/// What of the tree is not visible yet; see the module documentation.
#[derive(Debug, Default)]
pub(super) struct Visibility {
    dirty: BTreeMap<String, Zxid>,
    unsettled: VecDeque<Unsettled>,
    blankets: usize,
    /// The newest zxid that became visible by settling.
    settled: Zxid,
}

impl Visibility {
    /// Everything up to `zxid` (the recovered state) is visible.
    pub(super) fn new(zxid: Zxid) -> Visibility {
        Visibility { settled: zxid, ..Default::default() }
    }

    /// Records an applied transaction, durable once `seq` is.
    fn applied(&mut self, zxid: Zxid, seq: u64, paths: Vec<String>) {
        for p in &paths {
            self.dirty.insert(p.clone(), zxid);
        }
        self.unsettled.push_back(Unsettled { zxid, seq, paths: Some(paths) });
    }

    /// The whole tree was replaced by a snapshot at `zxid`, durable once `seq` is.
    fn replaced(&mut self, zxid: Zxid, seq: u64) {
        self.dirty.clear();
        self.unsettled.clear();
        self.blankets = 1;
        self.settled = self.settled.min(zxid);
        self.unsettled.push_back(Unsettled { zxid, seq, paths: None });
    }

    /// Makes visible every transaction durable through `durable_seq` and committed
    /// through `committed`, in zxid order.
    fn settle(&mut self, durable_seq: u64, committed: Zxid) {
        while self.unsettled.front().is_some_and(|u| u.seq <= durable_seq && u.zxid <= committed) {
            let u = self.unsettled.pop_front().expect("front exists");
            self.settled = u.zxid;
            match u.paths {
                None => self.blankets -= 1,
                Some(paths) => {
                    for p in paths {
                        if self.dirty.get(&p).is_some_and(|z| *z <= u.zxid) {
                            self.dirty.remove(&p);
                        }
                    }
                }
            }
        }
    }

    /// The newest zxid whose state, and everything before it, is visible (`last_zxid` is
    /// the tree's: with nothing unsettled the whole tree is visible).
    fn visible(&self, last_zxid: Zxid) -> Zxid {
        if self.unsettled.is_empty() {
            last_zxid
        } else {
            self.settled
        }
    }

    fn all_dirty(&self) -> bool {
        self.blankets > 0
    }

    fn is_dirty(&self, path: &str) -> bool {
        !self.dirty.is_empty() && self.dirty.contains_key(path)
    }

    /// True when `path` or any proper ancestor of it is dirty.
    fn lineage_dirty(&self, path: &str) -> bool {
        if self.dirty.is_empty() {
            return false;
        }
        let mut p = path;
        loop {
            if self.dirty.contains_key(p) {
                return true;
            }
            if p == "/" || p.is_empty() {
                return false;
            }
            p = crate::path::parent(p);
        }
    }

    /// True when `path` or anything below it is dirty.
    fn subtree_dirty(&self, path: &str) -> bool {
        if self.dirty.is_empty() {
            return false;
        }
        if path == "/" || self.dirty.contains_key(path) {
            return true;
        }
        let prefix = format!("{path}/");
        self.dirty.range(prefix.clone()..).next().is_some_and(|(k, _)| k.starts_with(&prefix))
    }

    /// Number of paths not visible yet.
    #[cfg(test)]
    pub(super) fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    pub(super) fn check(&self, last_zxid: Zxid) {
        // (A snapshot may replace the tree with the state at the zxid already visible.)
        debug_assert!(
            self.unsettled.front().is_none_or(
                |u| u.zxid > self.settled || (u.paths.is_none() && u.zxid == self.settled)
            )
        );
        debug_assert!(self
            .unsettled
            .iter()
            .zip(self.unsettled.iter().skip(1))
            .all(|(a, b)| a.zxid < b.zxid));
        debug_assert!(self.unsettled.back().is_none_or(|u| u.zxid == last_zxid));
        debug_assert_eq!(
            self.blankets,
            self.unsettled.iter().filter(|u| u.paths.is_none()).count()
        );
    }
}

/// The paths whose node `rec` changes, read from the tree before it is applied.
fn touched(tree: &DataTree, rec: &TxnRecord) -> Vec<String> {
    fn one(txn: &Txn, out: &mut Vec<String>) {
        match txn {
            Txn::Create { path, .. } | Txn::Delete { path } => {
                out.push(path.clone());
                out.push(crate::path::parent(path).to_string());
            }
            Txn::SetData { path, .. } | Txn::SetAcl { path, .. } => out.push(path.clone()),
            Txn::Multi(txns) => txns.iter().for_each(|t| one(t, out)),
            Txn::CreateSession { .. }
            | Txn::CloseSession
            | Txn::Check { .. }
            | Txn::Error { .. } => {}
        }
    }
    let mut out = Vec::new();
    if let Txn::CloseSession = rec.txn {
        for p in tree.ephemerals(rec.header.session) {
            out.push(crate::path::parent(&p).to_string());
            out.push(p);
        }
    }
    one(&rec.txn, &mut out);
    out
}

impl Node {
    /// Records `rec` as applied-but-not-visible; call before applying it. `seq` is the
    /// Persist seq of its log record (or a later one).
    pub(super) fn note_applied(&mut self, rec: &TxnRecord, seq: u64) {
        let paths = touched(&self.tree, rec);
        self.visibility.applied(rec.header.zxid, seq, paths);
    }

    /// The tree was replaced by a snapshot at `zxid`, durable once `seq` is.
    pub(super) fn note_replaced(&mut self, zxid: Zxid, seq: u64) {
        self.visibility.replaced(zxid, seq);
    }

    /// Makes visible what is durable and committed.
    pub(super) fn settle(&mut self) {
        self.visibility.settle(self.durable_seq, self.committed);
    }

    /// The newest zxid that is durable here and committed, with everything before it.
    pub(super) fn visible_zxid(&mut self) -> Zxid {
        self.settle();
        self.visibility.visible(self.last_zxid)
    }

    /// True when the answer `result` to the read `req` from `conn` may leave now: nothing
    /// of the connection is held (replies and watch events keep their order), and nothing
    /// the answer depends on is dirty.
    pub(super) fn may_answer_early(
        &mut self,
        conn: ConnId,
        req: &Request,
        result: &ReplyResult,
    ) -> bool {
        if self.conns.get(&conn).is_none_or(|c| c.held > 0) {
            return false;
        }
        self.settle();
        let v = &self.visibility;
        if v.all_dirty() {
            return false;
        }
        let no_node = matches!(result, Err(KeeperError::NoNode));
        // The node, and, for an answer that it does not exist, its ancestors.
        let node_clean = |path: &str| {
            path != super::reconfig::CONFIG_PATH
                && if no_node { !v.lineage_dirty(path) } else { !v.is_dirty(path) }
        };
        match req {
            Request::Ping => true,
            Request::Exists { path, .. }
            | Request::GetData { path, .. }
            | Request::GetAcl { path }
            | Request::GetChildren { path, .. }
            | Request::GetChildren2 { path, .. } => node_clean(path),
            Request::GetAllChildrenNumber { path } => !v.subtree_dirty(path),
            Request::MultiRead(ops) => ops.iter().all(|op| match op {
                Request::GetData { path, .. } | Request::GetChildren { path, .. } => {
                    path != super::reconfig::CONFIG_PATH && !v.lineage_dirty(path)
                }
                _ => true, // answered BADARGUMENTS whatever the tree holds
            }),
            _ => false,
        }
    }

    /// Sends a read's answer now, labelled with the visible zxid.
    pub(super) fn answer_early(
        &mut self,
        conn: ConnId,
        xid: Xid,
        result: ReplyResult,
        arrived: Option<u64>,
    ) {
        let zxid = self.visible_zxid();
        self.release(Output::Reply { conn, xid, zxid, result }, arrived);
        if self.config.planted.watches_after_data() {
            // The planted bug holds events back behind the next reply, early ones too.
            for w in std::mem::take(&mut self.late_watches) {
                self.emit_now(w, None);
            }
        }
    }
}
