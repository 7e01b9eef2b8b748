//! Watches: who wants to hear about which path, and which events a change fires.
//!
//! Mirrors ZooKeeper's `WatchManager` pair (data table and child table) plus the
//! persistent and persistent-recursive modes of `addWatch`. Watches belong to a connection
//! and die with it. Firing rules (ZK-REFERENCE.md §4):
//! - created `p`: NodeCreated to data/persistent watches on `p` and recursive watches on `p`
//!   or an ancestor; NodeChildrenChanged to child/persistent watches on `parent(p)`;
//! - deleted `p`: NodeDeleted to data, child and persistent watches on `p` and recursive
//!   ones above it; NodeChildrenChanged on the parent as for a create;
//! - data changed `p`: NodeDataChanged to data/persistent/recursive watches.
//!
//! One-shot watches are removed when they fire; a connection gets one event per (type,
//! path) even when several of its watches match. Invariant: every (conn, path) pair in a
//! table is mirrored in `by_conn`, so closing a connection removes all of its watches
//! without scanning the tables. Events come out in a fixed order (change order, then the
//! node's own event before its parent's, then connection id), never hash order.
//!
//! **ACLs.** An event goes to a connection only if that connection may READ the node it is
//! about (ZooKeeper 3.8.4 and later, ZOOKEEPER-4799 / CVE-2024-23944): the created or
//! changed node's ACL, the ACL a deleted node had, or the parent's ACL for
//! NodeChildrenChanged. [`AclsBefore`] keeps the ACLs of nodes a transaction deletes, read
//! before it is applied. setWatches is stricter than ZooKeeper (which fires its catch-up
//! events unfiltered): see `node::client`.
//!
//! **Bound.** A connection's watches cost [`watch_cost`] bytes each (the path plus the
//! bookkeeping of both tables); past `maxWatchBytesPerSession` (ZooKeeper has no such bound)
//! a new registration is refused and the request that asked for it fails with
//! QUOTAEXCEEDED. Invariant: `bytes[conn]` is the cost of exactly the watches in
//! `by_conn[conn]`.

use std::collections::{BTreeMap, BTreeSet};

use crate::acl::{self, AuthContext};
use crate::ids::{ConnId, SessionId};
use crate::path;
use crate::proto::{perms, Acl, EventType, WatcherType};
use crate::tree::{Change, DataTree};
use crate::txn::Txn;

/// The kinds of registration a connection can hold on a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatchKind {
    /// One-shot, set by getData or exists.
    Data,
    /// One-shot, set by getChildren.
    Child,
    /// addWatch mode 0.
    Persistent,
    /// addWatch mode 1.
    PersistentRecursive,
}

impl WatchKind {
    const ALL: [WatchKind; 4] =
        [WatchKind::Data, WatchKind::Child, WatchKind::Persistent, WatchKind::PersistentRecursive];
}

/// A notification to send: connection, event type, path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired {
    pub conn: ConnId,
    pub event_type: EventType,
    pub path: String,
}

/// The ACLs of the nodes one transaction deletes (and, inside a multi, creates), read
/// before it is applied, so that the events it fires can be checked against them.
#[derive(Debug, Default)]
pub struct AclsBefore(BTreeMap<String, Vec<Acl>>);

impl AclsBefore {
    /// Reads them from `tree`, which `txn` (of `session`) has not yet changed.
    pub fn read(tree: &DataTree, txn: &Txn, session: SessionId) -> AclsBefore {
        let mut out = AclsBefore::default();
        let keep = |out: &mut AclsBefore, p: &str| {
            if let Some(n) = tree.get(p) {
                out.0.entry(p.to_string()).or_insert_with(|| n.acl.to_vec());
            }
        };
        match txn {
            Txn::Delete { path } => keep(&mut out, path),
            Txn::CloseSession => {
                for p in tree.ephemerals(session) {
                    keep(&mut out, &p);
                }
            }
            Txn::Multi(txns) => {
                for t in txns {
                    match t {
                        Txn::Delete { path } => keep(&mut out, path),
                        Txn::Create { path, acl, .. } => {
                            out.0.entry(path.clone()).or_insert_with(|| acl.clone());
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// True when `auth` may READ the node `fired` is about. A node whose ACL cannot be
    /// found is not readable (the event is dropped, never leaked).
    pub fn may_read(
        &self,
        tree: &DataTree,
        fired: &Fired,
        auth: &AuthContext,
        skip_acl: bool,
    ) -> bool {
        let before = self.0.get(&fired.path).map(|a| a.as_slice());
        let now = tree.get(&fired.path).map(|n| n.acl);
        let acl = match fired.event_type {
            EventType::NodeDeleted => before.or(now),
            _ => now.or(before),
        };
        acl.is_some_and(|a| acl::check(a, auth, perms::READ, skip_acl))
    }
}

/// Bytes one watch on `path` is charged against its connection's bound: the path (kept
/// twice, once per table) and an estimate of the two tree entries around it.
pub fn watch_cost(path: &str) -> usize {
    2 * path.len() + crate::limits::WATCH_OVERHEAD_BYTES
}

/// Every registered watch on one node.
#[derive(Clone, Debug, Default)]
pub struct WatchManager {
    tables: [BTreeMap<String, BTreeSet<ConnId>>; 4],
    by_conn: BTreeMap<ConnId, BTreeSet<(WatchKind, String)>>,
    /// Cost of each connection's watches (module doc).
    bytes: BTreeMap<ConnId, usize>,
    /// Most bytes of watches one connection may hold; 0 = no bound.
    limit_bytes: usize,
}

impl WatchManager {
    /// No watches, and no bound.
    pub fn new() -> WatchManager {
        WatchManager::default()
    }

    /// No watches; each connection may hold `limit_bytes` of them (0 = no bound).
    pub fn with_limit(limit_bytes: usize) -> WatchManager {
        WatchManager { limit_bytes, ..WatchManager::default() }
    }

    /// Registers a watch. Returns false, registering nothing, when it would take the
    /// connection past its bound (re-registering a watch it holds always succeeds).
    pub fn add(&mut self, conn: ConnId, kind: WatchKind, path: &str) -> bool {
        let key = (kind, path.to_string());
        let mine = self.by_conn.entry(conn).or_default();
        if mine.contains(&key) {
            return true;
        }
        let used = self.bytes.get(&conn).copied().unwrap_or(0);
        let cost = watch_cost(path);
        if self.limit_bytes > 0 && used + cost > self.limit_bytes {
            return false;
        }
        mine.insert(key);
        self.bytes.insert(conn, used + cost);
        self.tables[kind as usize].entry(path.to_string()).or_default().insert(conn);
        true
    }

    /// Bytes of watches `conn` holds (see [`watch_cost`]).
    pub fn bytes_of(&self, conn: ConnId) -> usize {
        self.bytes.get(&conn).copied().unwrap_or(0)
    }

    /// Takes one watch off `conn`'s own list and its byte count (not the tables).
    fn forget(&mut self, conn: ConnId, kind: WatchKind, p: &str) {
        let Some(mine) = self.by_conn.get_mut(&conn) else { return };
        if mine.remove(&(kind, p.to_string())) {
            if let Some(b) = self.bytes.get_mut(&conn) {
                *b -= watch_cost(p);
            }
        }
    }

    /// True when `conn` holds a watch of `kind` on `path`.
    pub fn has(&self, conn: ConnId, kind: WatchKind, path: &str) -> bool {
        self.tables[kind as usize].get(path).is_some_and(|s| s.contains(&conn))
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        self.bytes.remove(&conn);
        for (kind, path) in self.by_conn.remove(&conn).unwrap_or_default() {
            self.unlink(conn, kind, &path);
        }
    }

    /// checkWatches / removeWatches: the kinds a WatcherType names that `conn` holds on
    /// `path`, removed when `remove` is set. Empty means ZooKeeper's NOWATCHER.
    pub fn matching(
        &mut self,
        conn: ConnId,
        path: &str,
        wt: WatcherType,
        remove: bool,
    ) -> Vec<WatchKind> {
        let kinds: &[WatchKind] = match wt {
            WatcherType::Children => &[WatchKind::Child],
            WatcherType::Data => &[WatchKind::Data],
            WatcherType::Any => &WatchKind::ALL,
            WatcherType::Persistent => &[WatchKind::Persistent],
            WatcherType::PersistentRecursive => &[WatchKind::PersistentRecursive],
        };
        let found: Vec<WatchKind> =
            kinds.iter().copied().filter(|k| self.has(conn, *k, path)).collect();
        if remove {
            for k in &found {
                self.unlink(conn, *k, path);
                self.forget(conn, *k, path);
            }
        }
        found
    }

    /// The events one applied change fires, in delivery order; one-shot watches that fired
    /// are removed.
    pub fn fire(&mut self, change: &Change) -> Vec<Fired> {
        let mut fired = Vec::new();
        match change {
            Change::Created(p) => {
                self.fire_node(p, EventType::NodeCreated, &[WatchKind::Data], &mut fired);
                self.fire_parent(p, &mut fired);
            }
            Change::Deleted(p) => {
                self.fire_node(
                    p,
                    EventType::NodeDeleted,
                    &[WatchKind::Data, WatchKind::Child],
                    &mut fired,
                );
                self.fire_parent(p, &mut fired);
            }
            Change::DataChanged(p) => {
                self.fire_node(p, EventType::NodeDataChanged, &[WatchKind::Data], &mut fired);
            }
        }
        fired
    }

    /// Counts for `wchs`: connections watching, paths watched, total watches (the data-side
    /// tables only, as ZooKeeper reports them).
    pub fn summary(&self) -> (usize, usize, usize) {
        let mut conns = BTreeSet::new();
        let mut paths = BTreeSet::new();
        let mut total = 0;
        for kind in [WatchKind::Data, WatchKind::Persistent, WatchKind::PersistentRecursive] {
            for (p, set) in &self.tables[kind as usize] {
                paths.insert(p.as_str());
                total += set.len();
                conns.extend(set.iter().copied());
            }
        }
        (conns.len(), paths.len(), total)
    }

    /// `(path, connections)` of the data-side tables, sorted, for `wchp`/`wchc`.
    pub fn by_path(&self) -> BTreeMap<String, BTreeSet<ConnId>> {
        let mut out: BTreeMap<String, BTreeSet<ConnId>> = BTreeMap::new();
        for kind in [WatchKind::Data, WatchKind::Persistent, WatchKind::PersistentRecursive] {
            for (p, set) in &self.tables[kind as usize] {
                out.entry(p.clone()).or_default().extend(set.iter().copied());
            }
        }
        out
    }

    /// Total registrations of every kind (for `mntr`'s zk_watch_count).
    pub fn count(&self) -> usize {
        self.by_conn.values().map(|s| s.len()).sum()
    }

    fn fire_node(
        &mut self,
        p: &str,
        ev: EventType,
        one_shot: &[WatchKind],
        fired: &mut Vec<Fired>,
    ) {
        let mut conns = BTreeSet::new();
        for kind in one_shot {
            if let Some(set) = self.tables[*kind as usize].remove(p) {
                for c in &set {
                    self.forget(*c, *kind, p);
                }
                conns.extend(set);
            }
        }
        if let Some(set) = self.tables[WatchKind::Persistent as usize].get(p) {
            conns.extend(set.iter().copied());
        }
        let recursive = &self.tables[WatchKind::PersistentRecursive as usize];
        if !recursive.is_empty() {
            let mut at = p;
            loop {
                if let Some(set) = recursive.get(at) {
                    conns.extend(set.iter().copied());
                }
                if at == "/" {
                    break;
                }
                at = path::parent(at);
            }
        }
        fired.extend(conns.into_iter().map(|conn| Fired {
            conn,
            event_type: ev,
            path: p.to_string(),
        }));
    }

    fn fire_parent(&mut self, p: &str, fired: &mut Vec<Fired>) {
        if p == "/" {
            return;
        }
        let parent = path::parent(p);
        let mut conns = BTreeSet::new();
        if let Some(set) = self.tables[WatchKind::Child as usize].remove(parent) {
            for c in &set {
                self.forget(*c, WatchKind::Child, parent);
            }
            conns.extend(set);
        }
        if let Some(set) = self.tables[WatchKind::Persistent as usize].get(parent) {
            conns.extend(set.iter().copied());
        }
        fired.extend(conns.into_iter().map(|conn| Fired {
            conn,
            event_type: EventType::NodeChildrenChanged,
            path: parent.to_string(),
        }));
    }

    fn unlink(&mut self, conn: ConnId, kind: WatchKind, p: &str) {
        let table = &mut self.tables[kind as usize];
        if let Some(set) = table.get_mut(p) {
            set.remove(&conn);
            if set.is_empty() {
                table.remove(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(fired: &[Fired]) -> Vec<String> {
        fired.iter().map(|f| format!("{} {:?} {}", f.conn, f.event_type, f.path)).collect()
    }

    #[test]
    fn one_shot_watches_fire_once_and_parents_see_children_changed() {
        let mut w = WatchManager::new();
        w.add(ConnId(1), WatchKind::Data, "/a/b");
        w.add(ConnId(2), WatchKind::Child, "/a");
        let f = w.fire(&Change::Created("/a/b".into()));
        assert_eq!(events(&f), ["c1 NodeCreated /a/b", "c2 NodeChildrenChanged /a"]);
        assert!(w.fire(&Change::DataChanged("/a/b".into())).is_empty(), "one-shot");
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn delete_fires_once_per_connection_for_data_and_child_watches() {
        let mut w = WatchManager::new();
        w.add(ConnId(1), WatchKind::Data, "/a");
        w.add(ConnId(1), WatchKind::Child, "/a");
        let f = w.fire(&Change::Deleted("/a".into()));
        assert_eq!(events(&f), ["c1 NodeDeleted /a"]);
    }

    #[test]
    fn persistent_and_recursive_watches_stay_and_recursive_never_sees_children_changed() {
        let mut w = WatchManager::new();
        w.add(ConnId(1), WatchKind::Persistent, "/a");
        w.add(ConnId(2), WatchKind::PersistentRecursive, "/a");
        let f = w.fire(&Change::Created("/a/b".into()));
        assert_eq!(events(&f), ["c2 NodeCreated /a/b", "c1 NodeChildrenChanged /a"]);
        let f = w.fire(&Change::DataChanged("/a".into()));
        assert_eq!(events(&f), ["c1 NodeDataChanged /a", "c2 NodeDataChanged /a"]);
        assert_eq!(w.count(), 2);
    }

    #[test]
    fn removal_and_connection_close() {
        let mut w = WatchManager::new();
        w.add(ConnId(1), WatchKind::Data, "/a");
        w.add(ConnId(1), WatchKind::Child, "/a");
        assert_eq!(
            w.matching(ConnId(1), "/a", WatcherType::Children, false),
            vec![WatchKind::Child]
        );
        assert_eq!(
            w.matching(ConnId(1), "/a", WatcherType::Children, true),
            vec![WatchKind::Child]
        );
        assert!(w.matching(ConnId(1), "/a", WatcherType::Children, false).is_empty());
        w.remove_conn(ConnId(1));
        assert_eq!(w.count(), 0);
        assert!(w.fire(&Change::Deleted("/a".into())).is_empty());
    }

    #[test]
    fn the_byte_bound_refuses_past_it_and_frees_what_fires_or_is_removed() {
        let cost = watch_cost("/a/00");
        let mut w = WatchManager::with_limit(3 * cost);
        for p in ["/a/00", "/a/01", "/a/02"] {
            assert!(w.add(ConnId(1), WatchKind::Data, p));
        }
        assert!(!w.add(ConnId(1), WatchKind::Data, "/a/03"), "a fourth is past the bound");
        assert!(w.add(ConnId(1), WatchKind::Data, "/a/00"), "held already: no new cost");
        assert!(w.add(ConnId(2), WatchKind::Data, "/a/03"), "the bound is per connection");
        assert_eq!(w.bytes_of(ConnId(1)), 3 * cost);
        w.fire(&Change::DataChanged("/a/00".into()));
        assert_eq!(w.bytes_of(ConnId(1)), 2 * cost, "a fired one-shot watch is paid back");
        assert!(w.add(ConnId(1), WatchKind::Child, "/a/04"));
        w.matching(ConnId(1), "/a/04", WatcherType::Any, true);
        assert_eq!(w.bytes_of(ConnId(1)), 2 * cost, "a removed watch is paid back");
        w.remove_conn(ConnId(1));
        assert_eq!((w.bytes_of(ConnId(1)), w.count()), (0, 1));
    }
}
