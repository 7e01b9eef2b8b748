//! The tree's snapshot body: `last_zxid`, a node count, then every node in path order
//! (path, data, ACL, stored stat). Decoding rebuilds children, indexes and the digest, and
//! rejects (never panics on) bytes that do not describe a valid tree: a bad path, a
//! duplicate, a node before its parent, or a child of an ephemeral.

use super::{kind_of, DataTree, NodeKind, StoredStat, Znode};
use crate::ids::Zxid;
use crate::path;
use crate::wire::jute::{DecodeError, DecodeResult, Reader, Writer};
use crate::wire::records::{read_acls, write_acls};
use std::collections::BTreeSet;

/// Smallest encoding of one node, for the pre-allocation bound on the count.
const MIN_NODE_BYTES: usize = 4 + 4 + 4 + 6 * 8 + 3 * 4;

pub(super) fn encode(t: &DataTree, w: &mut Writer) {
    w.i64(t.last_zxid.as_i64());
    w.i32(t.nodes.len() as i32);
    for (p, n) in &t.nodes {
        w.string(p);
        w.data(n.data.as_ref());
        write_acls(w, &n.acl);
        n.stat.encode(w);
    }
}

pub(super) fn decode(r: &mut Reader<'_>) -> DecodeResult<DataTree> {
    let bad = |why: String| DecodeError::Invalid(why);
    let last_zxid = Zxid::from_i64(r.i64()?);
    let count = r.count(MIN_NODE_BYTES)?;
    let mut t = DataTree { last_zxid, ..DataTree::default() };
    for i in 0..count {
        let p = r.string()?;
        let data = r.data()?;
        let acl = read_acls(r)?;
        let stat = StoredStat::decode(r)?;
        path::validate(&p).map_err(|_| bad(format!("invalid path {p:?}")))?;
        if (i == 0) != (p == "/") {
            return Err(bad("the root must come first, once".to_string()));
        }
        if t.nodes.contains_key(&p) {
            return Err(bad(format!("duplicate node {p}")));
        }
        if p != "/" {
            let parent = path::parent(&p);
            let Some(pn) = t.nodes.get(parent) else {
                return Err(bad(format!("{p} comes before its parent")));
            };
            if matches!(kind_of(pn.stat.ephemeral_owner), NodeKind::Ephemeral(_)) {
                return Err(bad(format!("{p} is the child of an ephemeral")));
            }
            let name = path::name(&p).to_string();
            t.update(parent, |pn| {
                pn.children.insert(name);
            })
            .map_err(|_| bad(format!("{p}: parent vanished")))?;
        }
        t.insert_raw(&p, Znode { data, acl, stat, children: BTreeSet::new() });
    }
    if t.nodes.is_empty() {
        return Err(bad("a tree needs a root".to_string()));
    }
    debug_assert!(t.check_invariants());
    Ok(t)
}
