//! The tree's snapshot body: `last_zxid`, a node count, then every node (path, data, ACL,
//! stored stat). Keeper writes the nodes in path order; decoding accepts any order in which
//! each parent comes before its children (imported ZooKeeper trees are in its own order).
//! Decoding rebuilds child counts, indexes, the ACL table and the digest, and rejects (never
//! panics on) bytes that do not describe a valid tree: a bad path, a duplicate, a node
//! before its parent, or a child of an ephemeral.
//!
//! Restart speed: the nodes are read into a vector, sorted (a no-op pass for keeper's own
//! sorted snapshots), checked, and the map is bulk-built from it (`BTreeMap::from_iter` on
//! sorted input fills its nodes instead of splitting them as inserts do, which also makes
//! the map about 45% smaller than one built by inserts in order). A node's ACL bytes that
//! repeat the previous node's are not decoded again, only compared (and not encoded again
//! either, only copied).

use std::collections::BTreeMap;

use super::acls::AclId;
use super::{kind_of, DataTree, NodeKind, StoredStat, Znode};
use crate::ids::Zxid;
use crate::path;
use crate::wire::jute::{DecodeError, DecodeResult, Reader, Writer};
use crate::wire::records::{read_acls, write_acls};

/// Smallest encoding of one node, for the pre-allocation bound on the count.
const MIN_NODE_BYTES: usize = 4 + 4 + 4 + 6 * 8 + 3 * 4;

pub(super) fn encode(t: &DataTree, w: &mut Writer) {
    w.i64(t.last_zxid.as_i64());
    w.i32(t.nodes.len() as i32);
    // The previous node's ACL id and encoding: most nodes repeat it.
    let mut last_acl: Option<(AclId, Vec<u8>)> = None;
    for (p, n) in &t.nodes {
        w.string(p);
        w.data(n.data.as_ref());
        match &last_acl {
            Some((id, raw)) if *id == n.acl => w.raw(raw),
            _ => {
                let start = w.len();
                write_acls(w, t.acls.get(n.acl));
                last_acl = Some((n.acl, w.as_slice()[start..].to_vec()));
            }
        }
        n.stat.encode(w);
    }
}

pub(super) fn decode(r: &mut Reader<'_>) -> DecodeResult<DataTree> {
    let bad = |why: String| DecodeError::Invalid(why);
    let last_zxid = Zxid::from_i64(r.i64()?);
    let count = r.count(MIN_NODE_BYTES)?;
    let mut t = DataTree { last_zxid, ..DataTree::default() };
    let mut nodes: Vec<(Box<str>, Znode)> = r.vec_for(count);
    let mut sorted = true;
    // The previous node's ACL encoding and id: most nodes repeat it.
    let mut last_acl: Option<(&[u8], AclId)> = None;
    for i in 0..count {
        let p = r.string()?;
        let data = r.data()?;
        let acl = match last_acl {
            Some((raw, id)) if r.rest().starts_with(raw) => {
                r.skip(raw.len())?;
                t.acls.retain(id);
                id
            }
            _ => {
                let start = r.rest();
                let list = read_acls(r)?;
                let id = t.acls.intern(&list);
                last_acl = Some((&start[..start.len() - r.rest().len()], id));
                id
            }
        };
        let stat = StoredStat::decode(r)?;
        path::validate(&p).map_err(|_| bad(format!("invalid path {p:?}")))?;
        if (i == 0) != (p == "/") {
            return Err(bad("the root must come first, once".to_string()));
        }
        if let Some((prev, _)) = nodes.last() {
            match (**prev).cmp(p.as_str()) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Err(bad(format!("duplicate node {p}"))),
                std::cmp::Ordering::Greater => sorted = false,
            }
        }
        nodes.push((p.into_boxed_str(), Znode { data, stat, acl, num_children: 0 }));
    }
    if nodes.is_empty() {
        return Err(bad("a tree needs a root".to_string()));
    }
    // Where each node (in path order) was in the input, when that differs.
    let mut input_pos: Vec<u32> = Vec::new();
    if !sorted {
        let mut tagged: Vec<((Box<str>, Znode), u32)> = nodes.into_iter().zip(0..).collect();
        tagged.sort_unstable_by(|a, b| a.0 .0.cmp(&b.0 .0));
        (nodes, input_pos) = tagged.into_iter().unzip();
        if let Some(w) = nodes.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(bad(format!("duplicate node {}", w[0].0)));
        }
    }
    link_parents(&mut nodes, &input_pos)?;
    for (p, n) in &nodes {
        t.index_node(p, n);
    }
    t.nodes = BTreeMap::from_iter(nodes);
    debug_assert!(t.check_invariants());
    Ok(t)
}

/// Counts every node (sorted by path, root first) in its parent, checking that the parent
/// exists, came first in the input (`input_pos`, empty when the input was sorted), and is
/// not ephemeral. A node's parent is most often its predecessor's, so that is tried before
/// a binary search.
fn link_parents(nodes: &mut [(Box<str>, Znode)], input_pos: &[u32]) -> DecodeResult<()> {
    let bad = |why: String| DecodeError::Invalid(why);
    let pos = |k: usize| input_pos.get(k).map_or(k, |&p| p as usize);
    let mut hint = 0;
    for k in 1..nodes.len() {
        let p = &nodes[k].0;
        let parent = path::parent(p);
        let j = if *nodes[hint].0 == *parent {
            hint
        } else {
            match nodes[..k].binary_search_by(|e| (*e.0).cmp(parent)) {
                Ok(j) => j,
                Err(_) => return Err(bad(format!("{p} comes before its parent"))),
            }
        };
        if pos(j) > pos(k) {
            return Err(bad(format!("{p} comes before its parent")));
        }
        if matches!(kind_of(nodes[j].1.stat.ephemeral_owner), NodeKind::Ephemeral(_)) {
            return Err(bad(format!("{p} is the child of an ephemeral")));
        }
        nodes[j].1.num_children += 1;
        hint = j;
    }
    Ok(())
}
