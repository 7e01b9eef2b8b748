//! Turning Apache ZooKeeper's own snapshot and log (parsed by [`crate::zkfiles`]) into the
//! state a keeper server starts from: the tree, the session table and the last zxid.
//!
//! Mirrors what ZooKeeper does when it loads its dataDir (`FileTxnSnapLog.restore`,
//! `ZKDatabase.loadDataBase`, `ZooKeeperServer.loadData`): start from the snapshot named
//! after zxid Z, replay every logged transaction above Z in order (over a possibly fuzzy
//! snapshot: see [`DataTree::apply_replayed`]), follow sessions through createSession and
//! closeSession, and finally drop ephemerals whose owner is no longer a session.
//!
//! Invariants: the replayed zxids continue the snapshot without a hole (each is the one
//! before plus one, or the first of a newer epoch), so a purged or missing log file is
//! refused instead of silently losing writes; the result satisfies keeper's own invariant
//! that every ephemeral's owner is a live session. Pure: the caller reads the files.

use std::collections::BTreeMap;

use crate::ids::{SessionId, Zxid};
use crate::persist;
use crate::proto::Acl;
use crate::tree::DataTree;
use crate::txn::{Txn, TxnHeader, TxnRecord};
use crate::wire::jute::{Reader, Writer};
use crate::wire::records::write_acls;
use crate::zkfiles::ZkSnapshot;

/// The state rebuilt from a ZooKeeper dataDir, ready to be written as a keeper snapshot.
#[derive(Debug)]
pub struct ZkImport {
    /// The zxid of the last transaction applied (the snapshot's, if the log added none).
    pub zxid: Zxid,
    /// Open sessions and their timeouts, sorted by id.
    pub sessions: Vec<(SessionId, i32)>,
    pub tree: DataTree,
    /// The zxid of the snapshot the import started from (0 without one).
    pub snapshot_zxid: Zxid,
    /// Log records applied on top of the snapshot.
    pub replayed: u64,
    /// Ephemerals removed because their session was gone (as ZooKeeper does on load).
    pub orphan_ephemerals_removed: usize,
}

impl ZkImport {
    /// The keeper snapshot file image of this state.
    pub fn encode(&self) -> Vec<u8> {
        persist::encode_snapshot(self.zxid, &self.sessions, &self.tree)
    }
}

/// Rebuilds ZooKeeper's state record by record. Feed log records in file order with
/// [`ZkImporter::replay`], then call [`ZkImporter::finish`].
#[derive(Debug)]
pub struct ZkImporter {
    tree: DataTree,
    sessions: BTreeMap<SessionId, i32>,
    snapshot_zxid: Zxid,
    last_zxid: Zxid,
    replayed: u64,
}

impl ZkImporter {
    /// Starts from nothing (a ZooKeeper dataDir that holds logs but no snapshot).
    pub fn empty() -> ZkImporter {
        ZkImporter {
            tree: DataTree::new(),
            sessions: BTreeMap::new(),
            snapshot_zxid: Zxid::ZERO,
            last_zxid: Zxid::ZERO,
            replayed: 0,
        }
    }

    /// Starts from a parsed ZooKeeper snapshot whose file is named after `zxid`. Fails when
    /// the nodes do not form a tree keeper accepts (a node before its parent, a duplicate,
    /// a child of an ephemeral, an invalid path).
    pub fn from_snapshot(zxid: Zxid, snap: &ZkSnapshot) -> Result<ZkImporter, String> {
        let tree = tree_from_nodes(zxid, snap)?;
        let mut sessions = BTreeMap::new();
        for (id, timeout_ms) in &snap.sessions {
            if sessions.insert(*id, *timeout_ms).is_some() {
                return Err(format!("session {id} is listed twice"));
            }
        }
        Ok(ZkImporter { tree, sessions, snapshot_zxid: zxid, last_zxid: zxid, replayed: 0 })
    }

    /// Applies one log record. Returns `Ok(false)` for a record the snapshot already holds
    /// (zxid at or below it); fails on a hole in the zxid sequence.
    pub fn replay(&mut self, rec: &TxnRecord) -> Result<bool, String> {
        let zxid = rec.header.zxid;
        if zxid <= self.last_zxid {
            return if self.replayed == 0 {
                Ok(false)
            } else {
                Err(format!("zxid {zxid} comes after {}: the log goes backwards", self.last_zxid))
            };
        }
        if !follows(self.last_zxid, zxid) {
            return Err(format!(
                "zxid {zxid} does not follow {} (a log file is missing or was purged)",
                self.last_zxid
            ));
        }
        self.tree.apply_replayed(rec);
        match &rec.txn {
            Txn::CreateSession { timeout_ms } => {
                self.sessions.insert(rec.header.session, *timeout_ms);
            }
            Txn::CloseSession => {
                self.sessions.remove(&rec.header.session);
            }
            _ => {}
        }
        self.last_zxid = zxid;
        self.replayed += 1;
        Ok(true)
    }

    /// The tree as rebuilt so far (read-only, for `keeper inspect`).
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The zxid of the last record applied (or the snapshot's).
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// Ends the replay: ephemerals of sessions that no longer exist are deleted, as
    /// ZooKeeper's `loadData` kills such sessions, stamped with the last zxid.
    pub fn finish(mut self) -> ZkImport {
        let mut removed = 0;
        for (owner, paths) in self.tree.ephemeral_sessions() {
            if self.sessions.contains_key(&owner) {
                continue;
            }
            removed += paths.len();
            let close = TxnRecord {
                header: TxnHeader { session: owner, cxid: 0, zxid: self.last_zxid, time_ms: 0 },
                txn: Txn::CloseSession,
            };
            self.tree.apply(&close);
        }
        assert!(
            self.tree.ephemeral_sessions().iter().all(|(s, _)| self.sessions.contains_key(s)),
            "every ephemeral's owner is a live session"
        );
        ZkImport {
            zxid: self.last_zxid,
            sessions: self.sessions.into_iter().collect(),
            tree: self.tree,
            snapshot_zxid: self.snapshot_zxid,
            replayed: self.replayed,
            orphan_ephemerals_removed: removed,
        }
    }
}

/// Whether `next` may directly follow `prev` in a ZooKeeper log: the next counter of the
/// same epoch, or the first transaction of a newer epoch (a new leader starts its counter
/// at 0 and its first transaction takes 1).
pub fn follows(prev: Zxid, next: Zxid) -> bool {
    next.0 == prev.0.wrapping_add(1) || (next.epoch() > prev.epoch() && next.counter() == 1)
}

/// Builds keeper's tree from ZooKeeper's node list by writing it in keeper's snapshot tree
/// encoding and decoding that, so the same checks guard imported trees and keeper's own.
/// The system nodes a ZooKeeper 3.5+ tree has are added when an older tree lacks them.
fn tree_from_nodes(zxid: Zxid, snap: &ZkSnapshot) -> Result<DataTree, String> {
    let mut w = Writer::new();
    let present = |p: &str| snap.nodes.iter().any(|n| n.path == p);
    let missing: Vec<(&str, Vec<Acl>)> = [
        ("/zookeeper", Acl::open_unsafe()),
        ("/zookeeper/quota", Acl::open_unsafe()),
        ("/zookeeper/config", Acl::read_unsafe()),
    ]
    .into_iter()
    .filter(|(p, _)| !present(p))
    .collect();
    let count = i32::try_from(snap.nodes.len() + missing.len())
        .map_err(|_| "more than 2^31 nodes".to_string())?;
    w.i64(zxid.as_i64());
    w.i32(count);
    for n in &snap.nodes {
        w.string(&n.path);
        w.data(n.data.as_ref());
        write_acls(&mut w, &n.acl);
        n.stat.encode(&mut w);
    }
    for (p, acl) in &missing {
        w.string(p);
        w.data(None);
        write_acls(&mut w, acl);
        crate::tree::StoredStat::default().encode(&mut w);
    }
    let bytes = w.into_vec();
    let mut r = Reader::new(&bytes);
    DataTree::decode_snapshot(&mut r).map_err(|e| format!("the snapshot's nodes: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zkfiles::{parse_log, parse_snapshot};

    const SNAPSHOT: &[u8] = include_bytes!("../tests/fixtures/zk38/snapshot.12");
    const LOG: &[u8] = include_bytes!("../tests/fixtures/zk38/log.1");

    #[test]
    fn zxid_holes_are_refused() {
        assert!(follows(Zxid(5), Zxid(6)));
        assert!(follows(Zxid::new(1, 9), Zxid::new(2, 1)));
        assert!(!follows(Zxid(5), Zxid(7)));
        assert!(!follows(Zxid::new(1, 9), Zxid::new(2, 2)));
    }

    /// The fixture's log replayed from nothing gives the tree its snapshot holds: the two
    /// paths ZooKeeper offers (snapshot, or log from the start) agree node for node.
    #[test]
    fn log_from_scratch_matches_the_snapshot() {
        let snap = parse_snapshot(SNAPSHOT).unwrap();
        let log = parse_log(LOG).unwrap();
        let from_snap = ZkImporter::from_snapshot(Zxid(0x12), &snap).unwrap().finish();
        let mut scratch = ZkImporter::empty();
        for rec in log.records.iter().filter(|r| r.header.zxid <= Zxid(0x12)) {
            assert!(scratch.replay(rec).unwrap());
        }
        let scratch = scratch.finish();
        assert_eq!(scratch.zxid, from_snap.zxid);
        // ZooKeeper's system nodes (root, /zookeeper/...) start with empty data and a -1
        // aversion on /zookeeper/config where keeper's fresh tree differs; the user's
        // nodes must agree exactly.
        for n in snap.nodes.iter().filter(|n| n.path != "/" && !n.path.starts_with("/zookeeper")) {
            let a = from_snap.tree.get(&n.path).expect("in the snapshot import");
            let b = scratch.tree.get(&n.path).unwrap_or_else(|| panic!("{} missing", n.path));
            assert_eq!(a.stat, b.stat, "{}", n.path);
            assert_eq!(a.data, b.data, "{}", n.path);
            assert_eq!(a.acl, b.acl, "{}", n.path);
        }
        assert_eq!(from_snap.tree.get("/").unwrap().stat, scratch.tree.get("/").unwrap().stat);
        assert_eq!(from_snap.tree.node_count(), scratch.tree.node_count());
    }

    #[test]
    fn a_hole_in_the_log_is_an_error() {
        let log = parse_log(LOG).unwrap();
        let mut imp = ZkImporter::empty();
        imp.replay(&log.records[0]).unwrap();
        let err = imp.replay(&log.records[2]).unwrap_err();
        assert!(err.contains("does not follow"), "{err}");
    }

    /// Replaying records the snapshot already reflects (a fuzzy snapshot) changes nothing
    /// but may move a parent's cversion forward; it never fails.
    #[test]
    fn replay_over_a_fuzzy_snapshot_is_tolerated() {
        let snap = parse_snapshot(SNAPSHOT).unwrap();
        let log = parse_log(LOG).unwrap();
        let mut imp = ZkImporter::from_snapshot(Zxid(0x5), &snap).unwrap();
        for rec in log.records.iter().filter(|r| r.header.zxid > Zxid(0x5)) {
            imp.replay(rec).unwrap();
        }
        let done = imp.finish();
        let exact = ZkImporter::from_snapshot(Zxid(0x12), &snap).unwrap().finish();
        assert_eq!(done.tree.get("/a").unwrap().data, exact.tree.get("/a").unwrap().data);
        assert!(done.tree.get("/cont/x").is_none());
    }
}
