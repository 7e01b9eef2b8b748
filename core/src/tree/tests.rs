//! Unit tests of the tree, named after behaviours (ZK-REFERENCE.md §3).

use super::*;
use crate::ids::SessionId;
use crate::txn::TxnHeader;

fn rec(zxid: u64, txn: Txn) -> TxnRecord {
    TxnRecord {
        header: TxnHeader {
            session: SessionId(7),
            cxid: 1,
            zxid: Zxid(zxid),
            time_ms: 1000 + zxid as i64,
        },
        txn,
    }
}

fn create(path: &str, owner: i64, pcv: i32) -> Txn {
    Txn::Create {
        path: path.to_string(),
        data: Some(Bytes::from_static(b"d")),
        acl: Acl::open_unsafe(),
        ephemeral_owner: owner,
        parent_cversion: pcv,
    }
}

#[test]
fn initial_tree_has_four_nodes_with_zero_stats() {
    let t = DataTree::new();
    assert_eq!(t.node_count(), 4);
    assert_eq!(t.children("/").unwrap(), vec!["zookeeper"]);
    assert_eq!(t.children("/zookeeper").unwrap(), vec!["config", "quota"]);
    assert_eq!(t.get("/zookeeper/config").unwrap().acl, Acl::read_unsafe().as_slice());
    let s = t.get("/zookeeper/quota").unwrap().stat;
    assert_eq!(s, Stat::default());
    assert_eq!(t.all_children_number("/"), Some(3));
}

#[test]
fn create_then_delete_updates_parent_cversion_pzxid_num_children() {
    let mut t = DataTree::new();
    t.apply(&rec(1, create("/a", 0, 1)));
    t.apply(&rec(2, create("/a/b", 0, 1)));
    t.apply(&rec(3, create("/a/c", 0, 2)));
    let a = t.get("/a").unwrap().stat;
    assert_eq!((a.cversion, a.num_children, a.pzxid, a.czxid), (2, 2, 3, 1));
    let applied = t.apply(&rec(4, Txn::Delete { path: "/a/b".into() }));
    assert_eq!(applied.changes, vec![Change::Deleted("/a/b".into())]);
    let a = t.get("/a").unwrap().stat;
    // stored cversion stays 2; client sees 2*2-1 = 3 (two creates plus one delete).
    assert_eq!((a.cversion, a.num_children, a.pzxid), (3, 1, 4));
    assert_eq!(t.stored_stat("/a").unwrap().cversion, 2);
}

#[test]
fn set_data_and_acl_bump_versions() {
    let mut t = DataTree::new();
    t.apply(&rec(1, create("/a", 0, 1)));
    let r = t.apply(&rec(
        2,
        Txn::SetData { path: "/a".into(), data: Some(Bytes::from_static(b"xyz")), version: 1 },
    ));
    let TxnResult::DataSet { stat } = r.result else { panic!("{r:?}") };
    assert_eq!(
        (stat.version, stat.mzxid, stat.czxid, stat.data_length, stat.mtime),
        (1, 2, 1, 3, 1002)
    );
    let r =
        t.apply(&rec(3, Txn::SetAcl { path: "/a".into(), acl: Acl::read_unsafe(), version: 1 }));
    let TxnResult::AclSet { stat } = r.result else { panic!() };
    assert_eq!((stat.aversion, stat.mzxid), (1, 2));
    assert!(r.changes.is_empty());
}

#[test]
fn container_and_ttl_owners_are_hidden_from_clients() {
    let mut t = DataTree::new();
    t.apply(&rec(1, create("/c", CONTAINER_OWNER, 1)));
    t.apply(&rec(2, create("/t", TTL_OWNER_MASK | 500, 2)));
    t.apply(&rec(3, create("/e", 0x55, 3)));
    assert_eq!(t.get("/c").unwrap().stat.ephemeral_owner, 0);
    assert_eq!(t.get("/t").unwrap().stat.ephemeral_owner, 0);
    assert_eq!(t.get("/e").unwrap().stat.ephemeral_owner, 0x55);
    assert_eq!(t.ephemerals(SessionId(0x55)), vec!["/e"]);
}

#[test]
fn container_candidates_need_a_past_child_and_ttl_needs_expiry() {
    let mut t = DataTree::new();
    t.apply(&rec(1, create("/c", CONTAINER_OWNER, 1)));
    t.apply(&rec(2, create("/t", TTL_OWNER_MASK | 500, 2)));
    assert!(t.container_candidates(1002 + 500, 10).is_empty());
    assert_eq!(t.container_candidates(1002 + 501, 10), vec!["/t"]);
    t.apply(&rec(3, create("/c/x", 0, 1)));
    assert_eq!(t.container_candidates(0, 10), Vec::<String>::new());
    t.apply(&rec(4, Txn::Delete { path: "/c/x".into() }));
    assert_eq!(t.container_candidates(1002 + 501, 10), vec!["/c", "/t"]);
    assert_eq!(t.container_candidates(1002 + 501, 1), vec!["/c"]);
}

#[test]
fn close_session_deletes_its_ephemerals_in_path_order() {
    let mut t = DataTree::new();
    t.apply(&rec(1, create("/b", 7, 1)));
    t.apply(&rec(2, create("/a", 7, 2)));
    t.apply(&rec(3, create("/z", 8, 3)));
    let r = t.apply(&rec(4, Txn::CloseSession));
    assert_eq!(r.result, TxnResult::SessionClosed);
    assert_eq!(r.changes, vec![Change::Deleted("/a".into()), Change::Deleted("/b".into())]);
    assert_eq!(t.ephemeral_count(), 1);
    assert_eq!(t.get("/").unwrap().stat.pzxid, 4);
}

#[test]
fn replayed_txn_with_broken_preconditions_is_an_error_not_a_panic() {
    let mut t = DataTree::new();
    t.apply(&rec(1, create("/a", 7, 1)));
    let code = |r: Applied| match r.result {
        TxnResult::Error { err } => err,
        other => panic!("{other:?}"),
    };
    assert_eq!(code(t.apply(&rec(2, create("/a", 0, 2)))), KeeperError::NodeExists.code());
    assert_eq!(code(t.apply(&rec(3, create("/x/y", 0, 1)))), KeeperError::NoNode.code());
    assert_eq!(
        code(t.apply(&rec(4, create("/a/y", 0, 1)))),
        KeeperError::NoChildrenForEphemerals.code()
    );
    assert_eq!(
        code(t.apply(&rec(5, Txn::Delete { path: "/q".into() }))),
        KeeperError::NoNode.code()
    );
    assert_eq!(
        code(t.apply(&rec(6, Txn::Delete { path: "/zookeeper".into() }))),
        KeeperError::NotEmpty.code()
    );
    assert_eq!(t.last_zxid(), Zxid(6));
}

#[test]
fn multi_with_an_error_changes_nothing() {
    let mut t = DataTree::new();
    let before = t.digest();
    let r = t.apply(&rec(
        1,
        Txn::Multi(vec![Txn::Error { err: 0 }, Txn::Error { err: -101 }, Txn::Error { err: -2 }]),
    ));
    assert_eq!(
        r.result,
        TxnResult::Multi(vec![
            TxnResult::Error { err: 0 },
            TxnResult::Error { err: -101 },
            TxnResult::Error { err: -2 }
        ])
    );
    assert_eq!(t.digest(), before);
    let r = t.apply(&rec(2, Txn::Multi(vec![create("/a", 0, 1), create("/a/b", 0, 1)])));
    assert_eq!(r.changes, vec![Change::Created("/a".into()), Change::Created("/a/b".into())]);
}

#[test]
fn digest_is_order_independent_and_snapshot_round_trips() {
    let mut a = DataTree::new();
    a.apply(&rec(1, create("/x", 0, 1)));
    a.apply(&rec(2, create("/y", 0, 2)));
    let mut w = Writer::new();
    a.encode_snapshot(&mut w);
    let bytes = w.into_vec();
    let b = DataTree::decode_snapshot(&mut Reader::new(&bytes)).unwrap();
    assert_eq!(a.digest(), b.digest());
    assert_eq!(b.children("/").unwrap(), vec!["x", "y", "zookeeper"]);
    assert_eq!(b.last_zxid(), Zxid(2));
    assert_eq!(a.approximate_data_size(), b.approximate_data_size());
    // Every truncation of a valid snapshot is rejected without a panic.
    for n in 0..bytes.len() {
        assert!(DataTree::decode_snapshot(&mut Reader::new(&bytes[..n])).is_err());
    }
    // Flipping bytes never panics.
    for i in 0..bytes.len() {
        let mut c = bytes.clone();
        c[i] ^= 0x5a;
        let _ = DataTree::decode_snapshot(&mut Reader::new(&c));
    }
}
