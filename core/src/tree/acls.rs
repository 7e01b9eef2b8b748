//! Interned ACL lists: each distinct list is stored once and nodes hold a 4-byte
//! [`AclId`], as ZooKeeper's `ReferenceCountedACLCache` does. Almost every znode of a real
//! tree shares one of a handful of lists, so this saves a vector and two heap strings per
//! node (about 150 bytes).
//!
//! Invariant: an id is live exactly while its reference count is above zero; `refs` counts
//! the nodes holding it, the `index` maps each live list to its id and nothing else, and a
//! slot whose count drops to zero is emptied and its id reused by the next new list. The
//! table's contents are not observable through the tree's API (only lists are), so two
//! trees with the same nodes are equal whatever ids they gave out.

use std::collections::BTreeMap;

use crate::proto::Acl;

/// A reference to one interned ACL list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct AclId(u32);

#[derive(Clone, Debug)]
struct Slot {
    acl: Vec<Acl>,
    /// The list's contribution to a node's digest hash, computed once.
    hash: u64,
    refs: u64,
}

/// The reference-counted table of distinct ACL lists.
#[derive(Clone, Debug, Default)]
pub(super) struct AclTable {
    slots: Vec<Slot>,
    index: BTreeMap<Vec<Acl>, AclId>,
    /// Emptied slots, reused before the table grows.
    free: Vec<u32>,
}

impl AclTable {
    /// Takes one reference to `acl`'s id, adding the list if it is new.
    pub(super) fn intern(&mut self, acl: &[Acl]) -> AclId {
        if let Some(&id) = self.index.get(acl) {
            self.slots[id.0 as usize].refs += 1;
            return id;
        }
        let slot = Slot { acl: acl.to_vec(), hash: hash_acl(acl), refs: 1 };
        let id = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                AclId(i)
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("fewer than 2^32 distinct ACLs");
                self.slots.push(slot);
                AclId(i)
            }
        };
        self.index.insert(acl.to_vec(), id);
        id
    }
    /// Takes one more reference to a live id (a node copying another's list).
    pub(super) fn retain(&mut self, id: AclId) {
        let slot = &mut self.slots[id.0 as usize];
        assert!(slot.refs > 0, "retain of a released ACL id");
        slot.refs += 1;
    }
    /// Drops one reference; the list goes when nothing holds it.
    pub(super) fn release(&mut self, id: AclId) {
        let slot = &mut self.slots[id.0 as usize];
        assert!(slot.refs > 0, "release of a released ACL id");
        slot.refs -= 1;
        if slot.refs == 0 {
            let acl = std::mem::take(&mut slot.acl);
            self.index.remove(&acl);
            self.free.push(id.0);
        }
    }
    /// The list behind a live id.
    pub(super) fn get(&self, id: AclId) -> &[Acl] {
        &self.slots[id.0 as usize].acl
    }
    /// The list's digest contribution.
    pub(super) fn hash(&self, id: AclId) -> u64 {
        self.slots[id.0 as usize].hash
    }
    /// Number of distinct lists in use.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }
    /// The reference count of a list (0 when it is not in the table), for checks and tests.
    pub(super) fn refs_of(&self, acl: &[Acl]) -> u64 {
        self.index.get(acl).map_or(0, |id| self.slots[id.0 as usize].refs)
    }
}

/// Multiply-xorshift step shared by the tree's hashes.
#[inline(always)]
pub(super) fn mix(h: u64, w: u64) -> u64 {
    let x = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 29)
}

/// Feeds bytes eight at a time; the last partial word carries the byte count.
pub(super) fn eat(mut h: u64, b: &[u8]) -> u64 {
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

fn hash_acl(acl: &[Acl]) -> u64 {
    let mut h = mix(0x6a09_e667_f3bc_c908, acl.len() as u64);
    for a in acl {
        h = mix(h, a.perms as u32 as u64);
        h = eat(h, a.id.scheme.as_bytes());
        h = eat(h, a.id.id.as_bytes());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Id;

    fn digest_acl(user: &str) -> Vec<Acl> {
        vec![Acl { perms: 31, id: Id::new("digest", user) }]
    }

    #[test]
    fn equal_lists_share_one_id_and_go_when_the_last_reference_drops() {
        let mut t = AclTable::default();
        let a = t.intern(&Acl::open_unsafe());
        let b = t.intern(&Acl::open_unsafe());
        assert_eq!(a, b);
        assert_eq!(t.refs_of(&Acl::open_unsafe()), 2);
        let c = t.intern(&digest_acl("u:x"));
        assert_ne!(a, c);
        assert_eq!(t.len(), 2);
        t.release(a);
        assert_eq!(t.refs_of(&Acl::open_unsafe()), 1);
        t.release(b);
        assert_eq!(t.refs_of(&Acl::open_unsafe()), 0);
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(c), digest_acl("u:x").as_slice());
        // The emptied slot is reused by the next new list.
        let d = t.intern(&digest_acl("u:y"));
        assert_eq!(d, a);
        assert_eq!(t.get(d), digest_acl("u:y").as_slice());
        assert_eq!(t.slots.len(), 2);
    }

    #[test]
    fn retain_counts_like_intern() {
        let mut t = AclTable::default();
        let a = t.intern(&Acl::read_unsafe());
        t.retain(a);
        t.release(a);
        assert_eq!(t.refs_of(&Acl::read_unsafe()), 1);
        t.release(a);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn different_lists_hash_apart() {
        let mut t = AclTable::default();
        let a = t.intern(&Acl::open_unsafe());
        let b = t.intern(&Acl::read_unsafe());
        let c = t.intern(&[]);
        assert_ne!(t.hash(a), t.hash(b));
        assert_ne!(t.hash(a), t.hash(c));
    }
}
