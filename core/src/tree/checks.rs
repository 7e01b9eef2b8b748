//! The tree's self-checks (run under debug assertions) and the per-node digest hash.
//!
//! `check_changed` runs after every apply and looks only around the changed paths;
//! `check_invariants` walks the whole tree (small trees only) and recounts everything the
//! tree keeps incrementally: children counts, the digest and the ACL table's references.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::acls::{eat, mix};
use super::{Change, DataTree, Znode};
use crate::path;
use crate::proto::Acl;

impl DataTree {
    /// The links around each changed path hold: a node that exists has its parent and as
    /// many children as it counts; a deleted one has no node left below it. Cheap enough
    /// for every apply.
    pub(super) fn check_changed(&self, changes: &[Change]) -> bool {
        for c in changes {
            let (Change::Created(p) | Change::Deleted(p) | Change::DataChanged(p)) = c;
            match self.nodes.get(p.as_str()) {
                Some(n) => {
                    assert!(
                        p == "/" || self.nodes.contains_key(path::parent(p)),
                        "{p} has no parent"
                    );
                    let mut count = 0u32;
                    self.for_each_child(p, |_| count += 1);
                    assert_eq!(count, n.num_children, "{p} miscounts its children");
                }
                None => {
                    let prefix = format!("{p}/");
                    let below = (Bound::Included(prefix.as_str()), Bound::Unbounded);
                    let first = self.nodes.range::<str, _>(below).next();
                    assert!(
                        first.is_none_or(|(k, _)| !k.starts_with(&prefix)),
                        "deleted {p} left a descendant"
                    );
                }
            }
        }
        true
    }

    /// O(n) consistency check, run under debug assertions after every
    /// `FULL_CHECK_EVERY`-th apply on small trees.
    pub(super) fn check_invariants(&self) -> bool {
        // Bounded so that long simulations with debug assertions stay linear-ish.
        if self.nodes.len() > 4096 {
            return true;
        }
        let mut sum = 0u64;
        let mut children: BTreeMap<&str, u32> = BTreeMap::new();
        let mut acl_refs: BTreeMap<&[Acl], u64> = BTreeMap::new();
        for (p, n) in &self.nodes {
            sum = sum.wrapping_add(node_hash(p, n, self.acls.hash(n.acl)));
            *acl_refs.entry(self.acls.get(n.acl)).or_default() += 1;
            if &**p != "/" {
                let parent = path::parent(p);
                assert!(self.nodes.contains_key(parent), "{p} has no parent");
                *children.entry(parent).or_default() += 1;
            }
        }
        // A snapshot in progress holds one reference per saved copy (`cow`).
        for id in self.pinned_acls() {
            *acl_refs.entry(self.acls.get(id)).or_default() += 1;
        }
        for (p, n) in &self.nodes {
            let counted = children.get(&**p).copied().unwrap_or(0);
            assert_eq!(counted, n.num_children, "{p} miscounts its children");
        }
        assert_eq!(sum, self.digest, "digest drifted");
        assert_eq!(acl_refs.len(), self.acls.len(), "the ACL table holds unused lists");
        for (acl, refs) in acl_refs {
            assert_eq!(self.acls.refs_of(acl), refs, "ACL reference count drifted");
        }
        true
    }
}

/// A 64-bit hash of a node's path, stored stat, child count, data and ACL list (`acl_hash`,
/// computed once per distinct list by the ACL table), finished with a mixer so that the
/// wrapping sum over nodes does not cancel structurally. Fields are taken eight bytes at a
/// time (a multiply-xorshift step per word; a field's last partial word carries its byte
/// count), about a fifth of the instructions of the byte-at-a-time FNV-1a it replaced (the
/// digest was 10% of a setData). The digest never leaves the process (no file or message
/// carries it), so only members running the same build compare it.
pub(super) fn node_hash(path: &str, n: &Znode, acl_hash: u64) -> u64 {
    let mut h = eat(0xcbf2_9ce4_8422_2325, path.as_bytes());
    let s = &n.stat;
    for v in [s.czxid, s.mzxid, s.ctime, s.mtime, s.ephemeral_owner, s.pzxid] {
        h = mix(h, v as u64);
    }
    for v in [s.version, s.cversion, s.aversion, n.num_children as i32] {
        h = mix(h, v as u32 as u64);
    }
    match &n.data {
        // Null data hashes apart from empty data.
        None => h = mix(h, u64::MAX),
        Some(d) => {
            h = eat(mix(h, d.len() as u64), d);
        }
    }
    h = mix(h, acl_hash);
    // splitmix64 finaliser
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}
