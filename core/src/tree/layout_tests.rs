//! Tests of the tree's compact layout: children found by walking the path-keyed map, ACL
//! lists interned with reference counts, snapshots bulk-decoded in any parent-first order.

use super::*;
use crate::ids::SessionId;
use crate::proto::Id;
use crate::txn::TxnHeader;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn rec(zxid: u64, txn: Txn) -> TxnRecord {
    TxnRecord {
        header: TxnHeader { session: SessionId(7), cxid: 1, zxid: Zxid(zxid), time_ms: 5 },
        txn,
    }
}

fn create_with(path: &str, acl: Vec<Acl>, owner: i64) -> Txn {
    Txn::Create {
        path: path.to_string(),
        data: Some(Bytes::copy_from_slice(path.as_bytes())),
        acl,
        ephemeral_owner: owner,
        parent_cversion: 1,
    }
}

fn digest_acl(user: &str) -> Vec<Acl> {
    vec![Acl { perms: 31, id: Id::new("digest", user) }]
}

/// Every path of the tree, through the public API only (walking `children` from `/`).
fn all_paths(t: &DataTree) -> Vec<String> {
    let mut out = vec!["/".to_string()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        for c in t.children(&p).unwrap() {
            out.push(path::join(&p, &c));
        }
        i += 1;
    }
    out.sort();
    out
}

/// The children of `p` by brute force over every key.
fn children_by_scan(t: &DataTree, p: &str) -> Vec<String> {
    let mut v: Vec<String> = t
        .nodes
        .keys()
        .filter(|k| &***k != "/" && path::parent(k) == p)
        .map(|k| path::name(k).to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn children_skip_subtrees_that_sort_between_siblings() {
    let mut t = DataTree::new();
    let paths = ["/a", "/a/x", "/a/x-1", "/a/x/y", "/a/x/y/z", "/a/x0", "/a/x.b", "/a/é", "/ab"];
    for (i, p) in paths.iter().enumerate() {
        t.apply(&rec(i as u64 + 1, create_with(p, Acl::open_unsafe(), 0)));
    }
    assert_eq!(t.children("/a").unwrap(), vec!["x", "x-1", "x.b", "x0", "é"]);
    assert_eq!(t.children("/").unwrap(), vec!["a", "ab", "zookeeper"]);
    assert_eq!(t.children("/a/x").unwrap(), vec!["y"]);
    assert_eq!(t.children("/a/x/y/z").unwrap(), Vec::<String>::new());
    assert_eq!(t.children("/nope"), None);
    assert_eq!(t.get("/a").unwrap().stat.num_children, 5);
    assert_eq!(t.all_children_number("/a"), Some(7));
}

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

#[test]
fn children_match_a_brute_force_scan_on_random_trees() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let names = ["a", "a-", "a.b", "a0", "b", "-", "a/", "ü"];
    for _ in 0..20 {
        let mut t = DataTree::new();
        let mut existing = vec!["/".to_string()];
        for zxid in 1..200u64 {
            let parent = existing[below(&mut rng, existing.len())].clone();
            let name = names[below(&mut rng, names.len())].trim_end_matches('/');
            let p = path::join(&parent, name);
            if below(&mut rng, 4) == 0 {
                t.apply(&rec(zxid, Txn::Delete { path: p.clone() }));
                existing.retain(|e| t.get(e).is_some());
            } else if t.get(&p).is_none() {
                t.apply(&rec(zxid, create_with(&p, Acl::open_unsafe(), 0)));
                existing.push(p);
            }
        }
        for p in t.nodes.keys() {
            let kids = t.children(p).unwrap();
            assert_eq!(kids, children_by_scan(&t, p), "children of {p}");
            assert_eq!(t.get(p).unwrap().stat.num_children as usize, kids.len());
        }
        assert!(t.check_invariants());
    }
}

#[test]
fn acl_lists_are_shared_and_released_with_their_last_node() {
    let mut t = DataTree::new();
    let base = t.acls.len();
    t.apply(&rec(1, create_with("/a", digest_acl("u:a"), 0)));
    t.apply(&rec(2, create_with("/b", digest_acl("u:a"), 0)));
    t.apply(&rec(3, create_with("/c", digest_acl("u:c"), 0)));
    assert_eq!(t.acls.refs_of(&digest_acl("u:a")), 2);
    assert_eq!(t.acls.len(), base + 2);
    assert_eq!(t.get("/b").unwrap().acl, digest_acl("u:a").as_slice());
    // setACL moves the node's reference.
    t.apply(&rec(4, Txn::SetAcl { path: "/a".into(), acl: digest_acl("u:c"), version: 1 }));
    assert_eq!(t.acls.refs_of(&digest_acl("u:a")), 1);
    assert_eq!(t.acls.refs_of(&digest_acl("u:c")), 2);
    assert_eq!(t.get("/a").unwrap().acl, digest_acl("u:c").as_slice());
    // Deleting the last node holding a list drops it from the table.
    t.apply(&rec(5, Txn::Delete { path: "/b".into() }));
    assert_eq!(t.acls.refs_of(&digest_acl("u:a")), 0);
    assert_eq!(t.acls.len(), base + 1);
    // So does closing the session that owned the last ephemerals holding one.
    t.apply(&rec(6, create_with("/e1", digest_acl("u:e"), 7)));
    t.apply(&rec(7, create_with("/e2", digest_acl("u:e"), 7)));
    assert_eq!(t.acls.refs_of(&digest_acl("u:e")), 2);
    t.apply(&rec(8, Txn::CloseSession));
    assert_eq!(t.acls.refs_of(&digest_acl("u:e")), 0);
    assert_eq!(t.acls.len(), base + 1);
    // setACL on a missing node takes no reference.
    t.apply(&rec(9, Txn::SetAcl { path: "/zz".into(), acl: digest_acl("u:z"), version: 1 }));
    assert_eq!(t.acls.refs_of(&digest_acl("u:z")), 0);
    assert!(t.check_invariants());
}

/// A tree with subtrees, several ACL lists, an ephemeral, a container and a TTL node.
fn varied_tree() -> DataTree {
    let mut t = DataTree::new();
    let nodes: [(&str, Vec<Acl>, i64); 8] = [
        ("/a", Acl::open_unsafe(), 0),
        ("/a/x", digest_acl("u:1"), 0),
        ("/a/x/y", digest_acl("u:1"), 0),
        ("/a/x-1", Acl::read_unsafe(), 0),
        ("/a/e", Acl::open_unsafe(), 9),
        ("/c", Acl::open_unsafe(), crate::txn::CONTAINER_OWNER),
        ("/t", Acl::open_unsafe(), TTL_OWNER_MASK | 500),
        ("/a/x/y/z", digest_acl("u:2"), 0),
    ];
    for (i, (p, acl, owner)) in nodes.into_iter().enumerate() {
        t.apply(&rec(i as u64 + 1, create_with(p, acl, owner)));
    }
    t.apply(&rec(9, Txn::SetData { path: "/a/x".into(), data: None, version: 1 }));
    t
}

fn assert_same_tree(a: &DataTree, b: &DataTree) {
    assert_eq!(a.digest(), b.digest());
    assert_eq!(all_paths(a), all_paths(b));
    for p in all_paths(a) {
        let (x, y) = (a.get(&p).unwrap(), b.get(&p).unwrap());
        assert_eq!((x.data, x.acl, x.stat), (y.data, y.acl, y.stat), "{p}");
        assert_eq!(a.children(&p), b.children(&p), "{p}");
    }
    assert_eq!(a.ephemeral_sessions(), b.ephemeral_sessions());
    assert_eq!(a.container_candidates(i64::MAX, 10), b.container_candidates(i64::MAX, 10));
    assert_eq!(a.approximate_data_size(), b.approximate_data_size());
    assert_eq!(a.acls.len(), b.acls.len());
}

#[test]
fn snapshot_round_trip_keeps_everything() {
    let a = varied_tree();
    let mut w = Writer::new();
    a.encode_snapshot(&mut w);
    let b = DataTree::decode_snapshot(&mut Reader::new(w.as_slice())).unwrap();
    assert_same_tree(&a, &b);
    assert!(b.check_invariants());
}

/// Writes `a`'s nodes in the given order, as an imported tree may come.
fn encode_in_order(a: &DataTree, order: &[&str]) -> Vec<u8> {
    let mut w = Writer::new();
    w.i64(a.last_zxid().as_i64());
    w.i32(order.len() as i32);
    for p in order {
        let n = &a.nodes[*p];
        w.string(p);
        w.data(n.data.as_ref());
        crate::wire::records::write_acls(&mut w, a.acls.get(n.acl));
        n.stat.encode(&mut w);
    }
    w.into_vec()
}

#[test]
fn snapshot_in_any_parent_first_order_decodes_the_same_tree() {
    let a = varied_tree();
    // Depth first, children in reverse: parents always before their children.
    let mut order = vec!["/"];
    let paths = all_paths(&a);
    fn visit<'p>(p: &str, paths: &'p [String], out: &mut Vec<&'p str>) {
        let mut kids: Vec<&String> =
            paths.iter().filter(|k| *k != "/" && path::parent(k) == p).collect();
        kids.reverse();
        for k in kids {
            out.push(k);
            visit(k, paths, out);
        }
    }
    visit("/", &paths, &mut order);
    assert_eq!(order.len(), a.node_count());
    let bytes = encode_in_order(&a, &order);
    let b = DataTree::decode_snapshot(&mut Reader::new(&bytes)).unwrap();
    assert_same_tree(&a, &b);

    // A child before its parent, and a duplicate, are refused with a clear error.
    let mut early = order.clone();
    let (x, y) = (early.iter().position(|p| *p == "/a/x").unwrap(), early.len());
    early.swap(x, y - 1);
    let bytes = encode_in_order(&a, &early);
    let err = DataTree::decode_snapshot(&mut Reader::new(&bytes)).unwrap_err();
    assert!(err.to_string().contains("before its parent"), "{err}");
    let mut dup = order.clone();
    dup.push("/a/x-1");
    let bytes = encode_in_order(&a, &dup);
    let err = DataTree::decode_snapshot(&mut Reader::new(&bytes)).unwrap_err();
    assert!(err.to_string().contains("duplicate node /a/x-1"), "{err}");
}

#[test]
fn snapshot_refuses_a_child_of_an_ephemeral() {
    let a = varied_tree();
    let mut w = Writer::new();
    w.i64(0);
    w.i32(3);
    for (p, owner) in [("/", 0), ("/e", 5), ("/e/c", 0)] {
        w.string(p);
        w.data(None);
        crate::wire::records::write_acls(&mut w, &Acl::open_unsafe());
        StoredStat { ephemeral_owner: owner, ..StoredStat::default() }.encode(&mut w);
    }
    let err = DataTree::decode_snapshot(&mut Reader::new(w.as_slice())).unwrap_err();
    assert!(err.to_string().contains("child of an ephemeral"), "{err}");
    drop(a);
}

#[test]
fn a_znode_stays_small() {
    // Data handle 32, stat 64, ACL id 4, child count 4: the map holds this inline for each
    // node, so growth here costs about twice its size per znode (docs/performance.md).
    assert!(std::mem::size_of::<Znode>() <= 104, "{}", std::mem::size_of::<Znode>());
}
