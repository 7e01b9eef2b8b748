//! The znode tree (`DataTree`, `DataNode` in ZooKeeper): nodes, Stat bookkeeping, and
//! applying transactions.
//!
//! Invariants: every node but `/` has its parent in the tree and is listed in the parent's
//! children; the ephemerals, container and TTL indexes hold exactly the nodes whose stored
//! ephemeralOwner says so; `digest` is the wrapping sum of one hash per node, so it is
//! identical for identical trees whatever order they were built in. All iteration that
//! reaches an output is in path order (BTreeMap/BTreeSet).
//!
//! Stored vs client Stat: the stored `cversion` counts child creations only (it feeds the
//! sequential suffix); clients see `2 * stored - numChildren`, which counts creates and
//! deletes (`DataNode.copyStat`). Container and TTL nodes show `ephemeralOwner = 0`.

mod replay;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet};

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

/// One znode.
#[derive(Clone, Debug)]
struct Znode {
    data: Option<Bytes>,
    acl: Vec<Acl>,
    stat: StoredStat,
    children: BTreeSet<String>,
}

impl Znode {
    fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.len())
    }
    fn empty(acl: Vec<Acl>) -> Znode {
        Znode { data: None, acl, stat: StoredStat::default(), children: BTreeSet::new() }
    }

    fn client_stat(&self) -> Stat {
        let n = self.children.len() as i32;
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
    nodes: BTreeMap<String, Znode>,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    last_zxid: Zxid,
    digest: u64,
    data_size: u64,
    /// Applies since the last full invariant check (debug builds: see `apply`).
    unchecked: u32,
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
        t.insert_raw("/", Znode::empty(Acl::open_unsafe()));
        for p in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
            let acl =
                if p == "/zookeeper/config" { Acl::read_unsafe() } else { Acl::open_unsafe() };
            let name = path::name(p).to_string();
            t.update(path::parent(p), |parent| {
                parent.children.insert(name);
            })
            .expect("the initial parents are inserted first");
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
            acl: &n.acl,
            stat: n.client_stat(),
        })
    }
    /// The stored stat of a node (stored cversion, raw ephemeralOwner).
    pub fn stored_stat(&self, path: &str) -> Option<StoredStat> {
        self.nodes.get(path).map(|n| n.stat)
    }
    /// Child names in sorted order.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        self.nodes.get(path).map(|n| n.children.iter().cloned().collect())
    }
    /// Number of descendants of `path` (not counting itself).
    pub fn all_children_number(&self, path: &str) -> Option<i32> {
        self.nodes.get(path)?;
        if path == "/" {
            return Some(self.nodes.len() as i32 - 1);
        }
        let prefix = format!("{path}/");
        Some(self.nodes.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).count()
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
            let n = &self.nodes[p];
            if !n.children.is_empty() {
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
            Txn::SetAcl { path, acl, version } => self
                .update(path, |n| {
                    n.acl = acl.clone();
                    n.stat.aversion = *version;
                })
                .map(|stat| TxnResult::AclSet { stat }),
            Txn::Check { path, .. } => {
                self.nodes.get(path).map(|_| TxnResult::Checked).ok_or(KeeperError::NoNode)
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
        let parent = path::parent(path).to_string();
        match self.nodes.get(&parent) {
            None => return Err(KeeperError::NoNode),
            Some(p) if matches!(p.stat.kind(), NodeKind::Ephemeral(_)) => {
                return Err(KeeperError::NoChildrenForEphemerals)
            }
            Some(_) => {}
        }
        let name = path::name(path).to_string();
        self.update(&parent, |p| {
            p.children.insert(name);
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
        let node = Znode { data: data.clone(), acl: acl.to_vec(), stat, children: BTreeSet::new() };
        let client = node.client_stat();
        self.insert_raw(path, node);
        Ok(client)
    }

    fn delete(&mut self, path: &str, zxid: i64) -> Result<(), KeeperError> {
        match self.nodes.get(path) {
            None => return Err(KeeperError::NoNode),
            Some(n) if !n.children.is_empty() => return Err(KeeperError::NotEmpty),
            Some(_) if path == "/" => return Err(KeeperError::BadArguments),
            Some(_) => {}
        }
        self.remove_raw(path);
        let name = path::name(path).to_string();
        self.update(path::parent(path), |p| {
            p.children.remove(&name);
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

    /// Changes one node in place, keeping the digest current.
    fn update(&mut self, path: &str, f: impl FnOnce(&mut Znode)) -> Result<Stat, KeeperError> {
        let n = self.nodes.get_mut(path).ok_or(KeeperError::NoNode)?;
        let before = node_hash(path, n);
        f(n);
        let after = node_hash(path, n);
        let stat = n.client_stat();
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        Ok(stat)
    }

    /// Inserts a node whose parent already lists it (or is being built), updating indexes.
    fn insert_raw(&mut self, path: &str, node: Znode) {
        self.digest = self.digest.wrapping_add(node_hash(path, &node));
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
        let old = self.nodes.insert(path.to_string(), node);
        assert!(old.is_none(), "insert_raw over an existing node {path}");
    }

    fn remove_raw(&mut self, path: &str) {
        let Some(node) = self.nodes.remove(path) else { return };
        self.digest = self.digest.wrapping_sub(node_hash(path, &node));
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

    /// The links around each changed path hold: a node that exists is listed by its parent
    /// and its children exist; a deleted one is not listed. Cheap enough for every apply.
    fn check_changed(&self, changes: &[Change]) -> bool {
        for c in changes {
            let (Change::Created(p) | Change::Deleted(p) | Change::DataChanged(p)) = c;
            let listed =
                self.nodes.get(path::parent(p)).map(|n| n.children.contains(path::name(p)));
            match self.nodes.get(p) {
                Some(n) => {
                    assert!(p == "/" || listed == Some(true), "{p} not in parent");
                    for child in &n.children {
                        assert!(
                            self.nodes.contains_key(&path::join(p, child)),
                            "{p}/{child} missing"
                        );
                    }
                }
                None => assert!(listed != Some(true), "deleted {p} still in parent"),
            }
        }
        true
    }

    /// O(n) consistency check, run under debug assertions after every
    /// `FULL_CHECK_EVERY`-th apply on small trees.
    fn check_invariants(&self) -> bool {
        // Bounded so that long simulations with debug assertions stay linear-ish.
        if self.nodes.len() > 4096 {
            return true;
        }
        let mut sum = 0u64;
        for (p, n) in &self.nodes {
            sum = sum.wrapping_add(node_hash(p, n));
            if p != "/" {
                let parent = &self.nodes[path::parent(p)];
                assert!(parent.children.contains(path::name(p)), "{p} not in parent");
            }
            for c in &n.children {
                assert!(self.nodes.contains_key(&path::join(p, c)), "{p}/{c} missing");
            }
        }
        assert_eq!(sum, self.digest, "digest drifted");
        true
    }
}

/// A 64-bit hash of a node's path, stored stat, data and ACL, finished with a mixer so that
/// the wrapping sum over nodes does not cancel structurally. Fields are taken eight bytes
/// at a time (a multiply-xorshift step per word; a field's last partial word carries its
/// byte count), about a fifth of the instructions of the byte-at-a-time FNV-1a it replaced
/// (the digest was 10% of a setData). The digest never leaves the process (no file or
/// message carries it), so only members running the same build compare it.
fn node_hash(path: &str, n: &Znode) -> u64 {
    #[inline(always)]
    fn mix(h: u64, w: u64) -> u64 {
        let x = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^ (x >> 29)
    }
    fn eat(mut h: u64, b: &[u8]) -> u64 {
        let mut words = b.chunks_exact(8);
        for w in &mut words {
            h = mix(h, u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        last[7] = rest.len() as u8 | 0x80;
        mix(h, u64::from_le_bytes(last))
    }
    let mut h = eat(0xcbf2_9ce4_8422_2325, path.as_bytes());
    let s = &n.stat;
    for v in [s.czxid, s.mzxid, s.ctime, s.mtime, s.ephemeral_owner, s.pzxid] {
        h = mix(h, v as u64);
    }
    for v in [s.version, s.cversion, s.aversion, n.children.len() as i32] {
        h = mix(h, v as u32 as u64);
    }
    match &n.data {
        // Null data hashes apart from empty data.
        None => h = mix(h, u64::MAX),
        Some(d) => {
            h = eat(mix(h, d.len() as u64), d);
        }
    }
    for a in &n.acl {
        h = mix(h, a.perms as u32 as u64);
        h = eat(h, a.id.scheme.as_bytes());
        h = eat(h, a.id.id.as_bytes());
    }
    // splitmix64 finaliser
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests;
