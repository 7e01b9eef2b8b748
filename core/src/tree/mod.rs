//! The znode tree (`DataTree`, `DataNode` in ZooKeeper): nodes, Stat bookkeeping, and
//! applying transactions.
//!
//! Invariants: every node but `/` has its parent in the tree, and a node's `num_children`
//! is the number of nodes whose parent it is; the ephemerals, container and TTL indexes hold
//! exactly the nodes whose stored ephemeralOwner says so; every node's ACL id holds one
//! reference in the ACL table, and the table holds nothing else but one reference per copy
//! saved by a snapshot in progress (`cow`); `digest` is the wrapping
//! sum of one hash per node, so it is identical for identical trees whatever order they
//! were built in. All iteration that reaches an output is in path order (BTreeMap/BTreeSet).
//!
//! Memory (docs/performance.md): nodes live in one map keyed by full path (`Box<str>`, no
//! capacity slack); there are no per-node child sets, since a node's children are the keys
//! right after `path/` in that map (`children` walks them, skipping each grandchild subtree
//! with one seek); ACL lists are interned (`acls`).
//!
//! Snapshots: `encode_snapshot` writes the whole tree at once; `begin_snapshot` and
//! `advance_snapshot` write the same bytes a slice at a time while transactions keep being
//! applied, every mutation first saving what a snapshot in progress still needs (`cow`).
//!
//! Stored vs client Stat: the stored `cversion` counts child creations only (it feeds the
//! sequential suffix); clients see `2 * stored - numChildren`, which counts creates and
//! deletes (`DataNode.copyStat`). Container and TTL nodes show `ephemeralOwner = 0`.

mod acls;
mod checks;
mod cow;
mod replay;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use acls::{AclId, AclTable};
use checks::node_hash;
pub use cow::FinishedSnapshot;

use crate::error::KeeperError;
use crate::ids::{SessionId, Zxid};
use crate::path;
use crate::proto::{Acl, Stat};
use crate::txn::{Txn, TxnRecord, CONTAINER_OWNER, TTL_MAX_MS, TTL_OWNER_MASK};
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
    /// `None` for null data (ZooKeeper keeps null apart from empty).
    pub data: Option<&'a Bytes>,
    pub acl: &'a [Acl],
    pub stat: Stat,
}

/// The persisted part of a node's Stat (`StatPersisted`): `cversion` is the stored
/// creation counter, not the client-visible value.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StoredStat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

impl StoredStat {
    /// Writes the fields in ZooKeeper's `StatPersisted` order (also keeper's snapshot order).
    pub fn encode(&self, w: &mut Writer) {
        for v in [self.czxid, self.mzxid, self.ctime, self.mtime] {
            w.i64(v);
        }
        w.i32(self.version);
        w.i32(self.cversion);
        w.i32(self.aversion);
        w.i64(self.ephemeral_owner);
        w.i64(self.pzxid);
    }
    /// Reads what `encode` writes (and what ZooKeeper's snapshots hold).
    pub fn decode(r: &mut Reader<'_>) -> DecodeResult<StoredStat> {
        Ok(StoredStat {
            czxid: r.i64()?,
            mzxid: r.i64()?,
            ctime: r.i64()?,
            mtime: r.i64()?,
            version: r.i32()?,
            cversion: r.i32()?,
            aversion: r.i32()?,
            ephemeral_owner: r.i64()?,
            pzxid: r.i64()?,
        })
    }
}

/// The kind of node its stored ephemeralOwner encodes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NodeKind {
    Persistent,
    Ephemeral(SessionId),
    Container,
    Ttl(i64),
}

impl StoredStat {
    /// The kind of node this stat belongs to.
    pub fn kind(&self) -> NodeKind {
        kind_of(self.ephemeral_owner)
    }
}

/// Decodes a stored ephemeralOwner (`EphemeralType.get`).
pub fn kind_of(owner: i64) -> NodeKind {
    if owner == 0 {
        NodeKind::Persistent
    } else if owner == CONTAINER_OWNER {
        NodeKind::Container
    } else if owner & TTL_OWNER_MASK == TTL_OWNER_MASK {
        NodeKind::Ttl(owner & TTL_MAX_MS)
    } else {
        NodeKind::Ephemeral(SessionId(owner))
    }
}

/// One znode (104 bytes; its path is the map key).
#[derive(Clone, Debug)]
struct Znode {
    data: Option<Bytes>,
    stat: StoredStat,
    /// One reference in the tree's ACL table.
    acl: AclId,
    num_children: u32,
}

impl Znode {
    fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.len())
    }
    fn empty(acl: AclId) -> Znode {
        Znode { data: None, stat: StoredStat::default(), acl, num_children: 0 }
    }

    fn client_stat(&self) -> Stat {
        let n = self.num_children as i32;
        let owner = match self.stat.kind() {
            NodeKind::Ephemeral(s) => s.0,
            _ => 0,
        };
        Stat {
            czxid: self.stat.czxid,
            mzxid: self.stat.mzxid,
            ctime: self.stat.ctime,
            mtime: self.stat.mtime,
            version: self.stat.version,
            cversion: self.stat.cversion.wrapping_mul(2).wrapping_sub(n),
            aversion: self.stat.aversion,
            ephemeral_owner: owner,
            data_length: self.data_len() as i32,
            num_children: n,
            pzxid: self.stat.pzxid,
        }
    }
}

/// The znode tree.
#[derive(Clone, Debug, Default)]
pub struct DataTree {
    nodes: BTreeMap<Box<str>, Znode>,
    acls: AclTable,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    last_zxid: Zxid,
    digest: u64,
    data_size: u64,
    /// Applies since the last full invariant check (debug builds: see `apply`).
    unchecked: u32,
    /// The incremental snapshot in progress, if any (`cow`).
    pending: Option<Box<cow::Pending>>,
}

/// Debug builds check the whole tree after every this-many-th apply (and around the changed
/// paths after every apply). A broken link or a drifted digest persists, so a full check
/// that comes a few applies late still catches it, at a sixty-fourth of the cost.
const FULL_CHECK_EVERY: u32 = 64;

impl DataTree {
    /// The initial tree: `/`, `/zookeeper`, `/zookeeper/quota`, `/zookeeper/config`
    /// (world READ), all with zero stats.
    pub fn new() -> DataTree {
        let mut t = DataTree::default();
        let open = t.acls.intern(&Acl::open_unsafe());
        t.insert_raw("/", Znode::empty(open));
        for p in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
            let acl =
                if p == "/zookeeper/config" { Acl::read_unsafe() } else { Acl::open_unsafe() };
            t.update(path::parent(p), |parent| parent.num_children += 1)
                .expect("the initial parents are inserted first");
            let acl = t.acls.intern(&acl);
            t.insert_raw(p, Znode::empty(acl));
        }
        debug_assert!(t.check_invariants());
        t
    }
    /// The zxid of the newest transaction applied (or restored from a snapshot).
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }
    /// Number of znodes, the root and /zookeeper subtree included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    /// A node's data, ACL and client-visible Stat.
    pub fn get(&self, path: &str) -> Option<NodeView<'_>> {
        self.nodes.get(path).map(|n| NodeView {
            data: n.data.as_ref(),
            acl: self.acls.get(n.acl),
            stat: n.client_stat(),
        })
    }
    /// The stored stat of a node (stored cversion, raw ephemeralOwner).
    pub fn stored_stat(&self, path: &str) -> Option<StoredStat> {
        self.nodes.get(path).map(|n| n.stat)
    }
    /// Child names in sorted order.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        let n = self.nodes.get(path)?;
        let mut out = Vec::with_capacity(n.num_children as usize);
        self.for_each_child(path, |name| out.push(name.to_string()));
        Some(out)
    }
    /// Calls `f` with each child name of `path` in sorted order. The children are the keys
    /// `path/name` without a further `/`; they sort in name order, interleaved with their
    /// own subtrees (`path/a/..` sorts after `path/a-b` but before `path/a0`), so on meeting
    /// a grandchild `path/a/..` the walk seeks once past `path/a/` (to `path/a0`, since `0`
    /// follows `/`): O(children + subtrees skipped × log n).
    fn for_each_child(&self, path: &str, mut f: impl FnMut(&str)) {
        let prefix = if path == "/" { "/".to_string() } else { format!("{path}/") };
        let mut from = Bound::Excluded(prefix.clone());
        'seek: loop {
            let lower = match &from {
                Bound::Excluded(s) => Bound::Excluded(s.as_str()),
                Bound::Included(s) => Bound::Included(s.as_str()),
                Bound::Unbounded => Bound::Unbounded,
            };
            for (k, _) in self.nodes.range::<str, _>((lower, Bound::Unbounded)) {
                let Some(rest) = k.strip_prefix(prefix.as_str()) else { return };
                match rest.find('/') {
                    None => f(rest),
                    Some(i) => {
                        from = Bound::Included(format!("{prefix}{}0", &rest[..i]));
                        continue 'seek;
                    }
                }
            }
            return;
        }
    }
    /// Number of descendants of `path` (not counting itself).
    pub fn all_children_number(&self, path: &str) -> Option<i32> {
        self.nodes.get(path)?;
        if path == "/" {
            return Some(self.nodes.len() as i32 - 1);
        }
        let prefix = format!("{path}/");
        let below = (Bound::Included(prefix.as_str()), Bound::Unbounded);
        Some(self.nodes.range::<str, _>(below).take_while(|(k, _)| k.starts_with(&prefix)).count()
            as i32)
    }
    /// Applies one committed transaction. Deterministic: uses only the record and the tree.
    /// A sub-txn whose preconditions no longer hold (log replay over a fuzzy snapshot)
    /// becomes an `Error` result instead of a panic. A multi holding any `Error` changes
    /// nothing; otherwise its sub-txns apply in order (not rolled back on replay errors).
    pub fn apply(&mut self, rec: &TxnRecord) -> Applied {
        let zxid = rec.header.zxid.as_i64();
        let time = rec.header.time_ms;
        if rec.header.zxid > self.last_zxid {
            self.last_zxid = rec.header.zxid;
        }
        let mut changes = Vec::new();
        let result = match &rec.txn {
            Txn::CreateSession { .. } => TxnResult::SessionCreated,
            Txn::CloseSession => {
                let paths = self.ephemerals(rec.header.session);
                for p in paths {
                    if self.delete(&p, zxid).is_ok() {
                        changes.push(Change::Deleted(p));
                    }
                }
                TxnResult::SessionClosed
            }
            Txn::Multi(txns) => {
                if txns.iter().any(|t| matches!(t, Txn::Error { .. })) {
                    let errs = txns
                        .iter()
                        .map(|t| match t {
                            Txn::Error { err } => TxnResult::Error { err: *err },
                            _ => TxnResult::Error { err: 0 },
                        })
                        .collect();
                    TxnResult::Multi(errs)
                } else {
                    let rs = txns.iter().map(|t| self.apply_one(t, zxid, time, &mut changes));
                    TxnResult::Multi(rs.collect())
                }
            }
            t => self.apply_one(t, zxid, time, &mut changes),
        };
        if cfg!(debug_assertions) {
            debug_assert!(self.check_changed(&changes));
            self.unchecked += 1;
            if self.unchecked >= FULL_CHECK_EVERY {
                self.unchecked = 0;
                debug_assert!(self.check_invariants());
            }
        }
        Applied { result, changes }
    }
    /// The session's ephemeral paths, sorted.
    pub fn ephemerals(&self, session: SessionId) -> Vec<String> {
        self.ephemerals.get(&session).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }
    /// Every session owning ephemerals, by id, with its sorted paths.
    pub fn ephemeral_sessions(&self) -> Vec<(SessionId, Vec<String>)> {
        self.ephemerals.iter().map(|(s, p)| (*s, p.iter().cloned().collect())).collect()
    }
    /// The sessions that own ephemeral nodes, without copying their paths.
    pub fn ephemeral_owners(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.ephemerals.keys().copied()
    }
    /// Number of ephemeral nodes.
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }
    /// Containers that are empty and once had a child, and TTL nodes that are empty and
    /// unmodified for longer than their ttl (`ContainerManager.getCandidates`), in path
    /// order, at most `limit`.
    pub fn container_candidates(&self, now_ms: i64, limit: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in self.containers.iter().chain(self.ttls.iter()) {
            let n = &self.nodes[p.as_str()];
            if n.num_children > 0 {
                continue;
            }
            let due = match n.stat.kind() {
                NodeKind::Container => n.stat.cversion > 0,
                NodeKind::Ttl(ttl) => now_ms.saturating_sub(n.stat.mtime) > ttl,
                _ => false,
            };
            if due {
                out.push(p.clone());
            }
        }
        out.sort();
        out.truncate(limit);
        out
    }
    /// Order-independent digest of the whole tree (wrapping sum of per-node hashes).
    pub fn digest(&self) -> u64 {
        self.digest
    }
    /// Sum of path and data lengths, as ZooKeeper's `approximateDataSize`.
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }
    /// Writes the tree in path order (see `snapshot`); no recursion.
    pub fn encode_snapshot(&self, w: &mut Writer) {
        snapshot::encode(self, w)
    }
    /// Reads a tree written by `encode_snapshot`, rejecting malformed input without panics.
    pub fn decode_snapshot(r: &mut Reader<'_>) -> DecodeResult<DataTree> {
        snapshot::decode(r)
    }
}

// ---- private: mutation with index and digest upkeep ----

impl DataTree {
    fn apply_one(&mut self, t: &Txn, zxid: i64, time: i64, changes: &mut Vec<Change>) -> TxnResult {
        let r = match t {
            Txn::Create { path, data, acl, ephemeral_owner, parent_cversion } => self
                .create(path, data, acl, *ephemeral_owner, *parent_cversion, zxid, time)
                .map(|stat| {
                    changes.push(Change::Created(path.clone()));
                    TxnResult::Created { path: path.clone(), stat }
                }),
            Txn::Delete { path } => self.delete(path, zxid).map(|()| {
                changes.push(Change::Deleted(path.clone()));
                TxnResult::Deleted
            }),
            Txn::SetData { path, data, version } => {
                self.set_data(path, data, *version, zxid, time).map(|stat| {
                    changes.push(Change::DataChanged(path.clone()));
                    TxnResult::DataSet { stat }
                })
            }
            Txn::SetAcl { path, acl, version } => {
                self.set_acl(path, acl, *version).map(|stat| TxnResult::AclSet { stat })
            }
            Txn::Check { path, .. } => {
                self.nodes.get(path.as_str()).map(|_| TxnResult::Checked).ok_or(KeeperError::NoNode)
            }
            Txn::Error { err } => Ok(TxnResult::Error { err: *err }),
            Txn::CreateSession { .. } => Ok(TxnResult::SessionCreated),
            // Nested multis and session closes inside a multi are not produced by prepare.
            Txn::Multi(_) | Txn::CloseSession => Err(KeeperError::BadArguments),
        };
        r.unwrap_or_else(|e| TxnResult::Error { err: e.code() })
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        path: &str,
        data: &Option<Bytes>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, KeeperError> {
        if path == "/" || path::validate(path).is_err() {
            return Err(KeeperError::BadArguments);
        }
        if self.nodes.contains_key(path) {
            return Err(KeeperError::NodeExists);
        }
        let parent = path::parent(path);
        match self.nodes.get(parent) {
            None => return Err(KeeperError::NoNode),
            Some(p) if matches!(p.stat.kind(), NodeKind::Ephemeral(_)) => {
                return Err(KeeperError::NoChildrenForEphemerals)
            }
            Some(_) => {}
        }
        self.update(parent, |p| {
            p.num_children += 1;
            p.stat.cversion = parent_cversion;
            p.stat.pzxid = zxid;
        })?;
        let stat = StoredStat {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
        };
        let acl = self.acls.intern(acl);
        let node = Znode { data: data.clone(), stat, acl, num_children: 0 };
        let client = node.client_stat();
        self.insert_raw(path, node);
        Ok(client)
    }

    fn delete(&mut self, path: &str, zxid: i64) -> Result<(), KeeperError> {
        match self.nodes.get(path) {
            None => return Err(KeeperError::NoNode),
            Some(n) if n.num_children > 0 => return Err(KeeperError::NotEmpty),
            Some(_) if path == "/" => return Err(KeeperError::BadArguments),
            Some(_) => {}
        }
        self.remove_raw(path);
        self.update(path::parent(path), |p| {
            p.num_children -= 1;
            if zxid > p.stat.pzxid {
                p.stat.pzxid = zxid;
            }
        })?;
        Ok(())
    }

    fn set_data(
        &mut self,
        path: &str,
        data: &Option<Bytes>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, KeeperError> {
        let old_len = self.nodes.get(path).ok_or(KeeperError::NoNode)?.data_len() as u64;
        self.data_size = self.data_size - old_len + data.as_ref().map_or(0, |d| d.len()) as u64;
        self.update(path, |n| {
            n.data = data.clone();
            n.stat.version = version;
            n.stat.mzxid = zxid;
            n.stat.mtime = time;
        })
    }

    /// Replaces a node's ACL list, moving its reference in the ACL table.
    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Stat, KeeperError> {
        self.nodes.get(path).ok_or(KeeperError::NoNode)?;
        let new = self.acls.intern(acl);
        let mut old = new;
        let stat = self.update(path, |n| {
            old = std::mem::replace(&mut n.acl, new);
            n.stat.aversion = version;
        })?;
        self.acls.release(old);
        Ok(stat)
    }

    /// Changes one node in place, keeping the digest current. `f` may change the node's ACL
    /// id only to another id that is live in the table.
    fn update(&mut self, path: &str, f: impl FnOnce(&mut Znode)) -> Result<Stat, KeeperError> {
        self.preserve(path);
        let n = self.nodes.get_mut(path).ok_or(KeeperError::NoNode)?;
        let before = node_hash(path, n, self.acls.hash(n.acl));
        f(n);
        let after = node_hash(path, n, self.acls.hash(n.acl));
        let stat = n.client_stat();
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        Ok(stat)
    }

    /// Counts a node that is entering the tree in the digest, the data size and the
    /// ephemeral, container and TTL indexes (not in the map itself).
    fn index_node(&mut self, path: &str, node: &Znode) {
        self.digest = self.digest.wrapping_add(node_hash(path, node, self.acls.hash(node.acl)));
        self.data_size += (path.len() + node.data_len()) as u64;
        match node.stat.kind() {
            NodeKind::Ephemeral(s) => {
                self.ephemerals.entry(s).or_default().insert(path.to_string());
            }
            NodeKind::Container => {
                self.containers.insert(path.to_string());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            NodeKind::Persistent => {}
        }
    }

    /// Inserts a node whose parent already lists it (or is being built), updating indexes.
    fn insert_raw(&mut self, path: &str, node: Znode) {
        self.preserve(path);
        self.index_node(path, &node);
        let old = self.nodes.insert(path.into(), node);
        assert!(old.is_none(), "insert_raw over an existing node {path}");
    }

    fn remove_raw(&mut self, path: &str) {
        self.preserve(path);
        let Some(node) = self.nodes.remove(path) else { return };
        self.digest = self.digest.wrapping_sub(node_hash(path, &node, self.acls.hash(node.acl)));
        self.acls.release(node.acl);
        self.data_size -= (path.len() + node.data_len()) as u64;
        match node.stat.kind() {
            NodeKind::Ephemeral(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            NodeKind::Container => {
                self.containers.remove(path);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            NodeKind::Persistent => {}
        }
    }
}

#[cfg(test)]
mod cow_tests;
#[cfg(test)]
mod layout_tests;
#[cfg(test)]
mod tests;
