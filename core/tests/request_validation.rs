//! Write validation and reads, named after ZooKeeper behaviours (ZK-REFERENCE.md §1, §3, §4).

use bytes::Bytes;
use keeper_core::acl::{self, AuthContext};
use keeper_core::config::Config;
use keeper_core::ids::{SessionId, Zxid};
use keeper_core::proto::{perms, Acl, CreateOp, CreateRequest, Id, OpResult, Request, Response};
use keeper_core::request::{prepare, read, PrepContext};
use keeper_core::tree::{DataTree, TxnResult};
use keeper_core::txn::{Txn, TxnHeader, TxnRecord, CONTAINER_OWNER, TTL_OWNER_MASK};
use keeper_core::KeeperError;

struct Harness {
    tree: DataTree,
    config: Config,
    auth: AuthContext,
    zxid: u64,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            tree: DataTree::new(),
            config: Config::standalone(2000),
            auth: AuthContext::default(),
            zxid: 0,
        }
    }
    fn prep(&self, req: &Request) -> Txn {
        let ctx = PrepContext {
            session: SessionId(0x42),
            auth: &self.auth,
            config: &self.config,
            zxid: Zxid(self.zxid + 1),
            time_ms: 5,
        };
        prepare(&self.tree, &ctx, req)
    }
    fn run(&mut self, req: Request) -> TxnResult {
        let txn = self.prep(&req);
        self.zxid += 1;
        let header =
            TxnHeader { session: SessionId(0x42), cxid: 1, zxid: Zxid(self.zxid), time_ms: 5 };
        self.tree.apply(&TxnRecord { header, txn }).result
    }
    fn read(&self, req: Request) -> Result<Response, KeeperError> {
        read(&self.tree, &self.auth, &self.config, &req)
    }
}

fn create(path: &str, flags: i32) -> Request {
    Request::Create(CreateRequest {
        op: CreateOp::Create,
        path: path.into(),
        data: Some(Bytes::from_static(b"v")),
        acl: Acl::open_unsafe(),
        flags,
        ttl: None,
    })
}

fn err(e: KeeperError) -> TxnResult {
    TxnResult::Error { err: e.code() }
}

#[test]
fn create_validation_order() {
    let mut h = Harness::new();
    // flags first, even with a bad path and no parent
    assert_eq!(h.run(create("bad", 7)), err(KeeperError::BadArguments));
    assert_eq!(h.run(create("/x/y", 5)), err(KeeperError::BadArguments));
    let mut ttl = CreateRequest {
        op: CreateOp::CreateTtl,
        ttl: Some(0),
        ..match create("/t", 5) {
            Request::Create(c) => c,
            _ => unreachable!(),
        }
    };
    assert_eq!(h.run(Request::Create(ttl.clone())), err(KeeperError::Unimplemented));
    h.config.extended_types_enabled = true;
    assert_eq!(h.run(Request::Create(ttl.clone())), err(KeeperError::BadArguments));
    ttl.ttl = Some(100);
    assert!(matches!(h.run(Request::Create(ttl)), TxnResult::Created { .. }));
    assert_eq!(h.tree.stored_stat("/t").unwrap().ephemeral_owner, TTL_OWNER_MASK | 100);
    assert_eq!(h.run(create("no-slash", 0)), err(KeeperError::BadArguments));
    // ACL before the parent
    let mut c = match create("/q/r", 0) {
        Request::Create(c) => c,
        _ => unreachable!(),
    };
    c.acl = vec![];
    assert_eq!(h.run(Request::Create(c)), err(KeeperError::InvalidAcl));
    assert_eq!(h.run(create("/q/r", 0)), err(KeeperError::NoNode));
    // the parent is looked up before the final path is validated
    assert_eq!(h.run(create("/a/", 0)), err(KeeperError::NoNode));
    assert!(matches!(h.run(create("/a", 0)), TxnResult::Created { .. }));
    assert_eq!(h.run(create("/a/", 0)), err(KeeperError::BadArguments));
    assert_eq!(h.run(create("/a", 0)), err(KeeperError::NodeExists));
    assert!(matches!(h.run(create("/e", 1)), TxnResult::Created { .. }));
    assert_eq!(h.run(create("/e/c", 0)), err(KeeperError::NoChildrenForEphemerals));
    assert_eq!(h.tree.ephemerals(SessionId(0x42)), vec!["/e"]);
}

#[test]
fn create_needs_create_permission_on_parent() {
    let mut h = Harness::new();
    assert_eq!(h.run(create("/zookeeper/config/x", 0)), err(KeeperError::NoAuth));
    h.auth.is_super = true;
    assert!(matches!(h.run(create("/zookeeper/config/x", 0)), TxnResult::Created { .. }));
}

#[test]
fn sequential_names_use_the_parents_creation_counter() {
    let mut h = Harness::new();
    h.run(create("/s", 0));
    let r1 = h.run(create("/s/n-", 2));
    h.run(Request::Delete { path: "/s/n-0000000000".into(), version: -1 });
    let r2 = h.run(create("/s/n-", 2));
    let r3 = h.run(create("/s/", 2));
    assert!(matches!(r1, TxnResult::Created { ref path, .. } if path == "/s/n-0000000000"));
    assert!(matches!(r2, TxnResult::Created { ref path, .. } if path == "/s/n-0000000001"));
    assert!(matches!(r3, TxnResult::Created { ref path, .. } if path == "/s/0000000002"));
    let Ok(Response::Stat(s)) = h.read(Request::Exists { path: "/s".into(), watch: false }) else {
        panic!()
    };
    // 3 creates + 1 delete
    assert_eq!((s.cversion, s.num_children), (4, 2));
}

#[test]
fn delete_validation_order() {
    let mut h = Harness::new();
    for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert_eq!(
            h.run(Request::Delete { path: p.into(), version: -1 }),
            err(KeeperError::BadArguments)
        );
    }
    assert_eq!(
        h.run(Request::Delete { path: "/a/b".into(), version: -1 }),
        err(KeeperError::NoNode)
    );
    h.run(create("/a", 0));
    h.run(create("/a/b", 0));
    assert_eq!(
        h.run(Request::Delete { path: "/a".into(), version: 3 }),
        err(KeeperError::BadVersion)
    );
    assert_eq!(
        h.run(Request::Delete { path: "/a".into(), version: 0 }),
        err(KeeperError::NotEmpty)
    );
    assert_eq!(h.run(Request::Delete { path: "/a/b".into(), version: 0 }), TxnResult::Deleted);
}

#[test]
fn set_data_and_set_acl_check_versions_and_perms() {
    let mut h = Harness::new();
    h.run(create("/a", 0));
    let big = Bytes::from(vec![0u8; h.config.max_buffer_bytes + 1]);
    assert_eq!(
        h.run(Request::SetData { path: "/a".into(), data: Some(big), version: -1 }),
        err(KeeperError::BadArguments)
    );
    assert_eq!(
        h.run(Request::SetData { path: "/a".into(), data: Some(Bytes::new()), version: 1 }),
        err(KeeperError::BadVersion)
    );
    let TxnResult::DataSet { stat } =
        h.run(Request::SetData { path: "/a".into(), data: Some(Bytes::new()), version: 0 })
    else {
        panic!()
    };
    assert_eq!(stat.version, 1);
    let read_only = Acl::read_unsafe();
    let TxnResult::AclSet { stat } =
        h.run(Request::SetAcl { path: "/a".into(), acl: read_only, version: 0 })
    else {
        panic!()
    };
    assert_eq!(stat.aversion, 1);
    assert_eq!(
        h.run(Request::SetData { path: "/a".into(), data: Some(Bytes::new()), version: -1 }),
        err(KeeperError::NoAuth)
    );
    assert_eq!(
        h.run(Request::SetAcl { path: "/a".into(), acl: Acl::open_unsafe(), version: -1 }),
        err(KeeperError::NoAuth)
    );
}

#[test]
fn multi_sees_earlier_sub_ops_and_rolls_back_on_failure() {
    let mut h = Harness::new();
    let ok = h.run(Request::Multi(vec![
        create("/a", 0),
        create("/a/b", 0),
        Request::Delete { path: "/a/b".into(), version: -1 },
        create("/a/b", 0),
    ]));
    assert!(
        matches!(ok, TxnResult::Multi(ref v) if v.len() == 4 && v.iter().all(|r| !matches!(r, TxnResult::Error { .. })))
    );
    let before = h.tree.digest();
    let failed = h.run(Request::Multi(vec![
        create("/c", 0),
        Request::Check { path: "/a".into(), version: 9 },
        create("/d", 0),
    ]));
    assert_eq!(
        failed,
        TxnResult::Multi(vec![
            TxnResult::Error { err: 0 },
            err(KeeperError::BadVersion),
            err(KeeperError::RuntimeInconsistency)
        ])
    );
    assert_eq!(h.tree.digest(), before);
    assert!(h.tree.get("/c").is_none());
}

#[test]
fn lone_check_is_unimplemented() {
    let h = Harness::new();
    assert_eq!(
        h.prep(&Request::Check { path: "/".into(), version: -1 }),
        Txn::Error { err: KeeperError::Unimplemented.code() }
    );
}

#[test]
fn delete_container_refuses_non_containers() {
    let mut h = Harness::new();
    h.run(create("/p", 0));
    let mut c = match create("/c", 4) {
        Request::Create(c) => c,
        _ => unreachable!(),
    };
    c.op = CreateOp::CreateContainer;
    h.run(Request::Create(c));
    assert_eq!(h.tree.stored_stat("/c").unwrap().ephemeral_owner, CONTAINER_OWNER);
    assert_eq!(
        h.run(Request::DeleteContainer { path: "/p".into() }),
        err(KeeperError::BadArguments)
    );
    assert_eq!(h.run(Request::DeleteContainer { path: "/c".into() }), TxnResult::Deleted);
}

#[test]
fn get_acl_masks_digests_without_admin_and_exists_checks_read() {
    let mut h = Harness::new();
    let d = acl::digest("bob:pw");
    let list = vec![
        Acl { perms: perms::READ, id: Id::new("world", "anyone") },
        Acl { perms: perms::ALL, id: Id::new("digest", &d) },
    ];
    let mut c = match create("/a", 0) {
        Request::Create(c) => c,
        _ => unreachable!(),
    };
    c.acl = list.clone();
    h.run(Request::Create(c));
    let Ok(Response::GetAcl { acl, .. }) = h.read(Request::GetAcl { path: "/a".into() }) else {
        panic!()
    };
    assert_eq!(acl[1].id.id, "bob:x");
    h.auth.ids.push(Id::new("digest", &d));
    let Ok(Response::GetAcl { acl, .. }) = h.read(Request::GetAcl { path: "/a".into() }) else {
        panic!()
    };
    assert_eq!(acl, list);
    let secret = Acl { perms: perms::ALL, id: Id::new("digest", "eve:zzz") };
    h.run(Request::SetAcl { path: "/a".into(), acl: vec![secret], version: -1 });
    assert_eq!(
        h.read(Request::Exists { path: "/a".into(), watch: false }),
        Err(KeeperError::NoAuth)
    );
    assert_eq!(
        h.read(Request::Exists { path: "/nope".into(), watch: false }),
        Err(KeeperError::NoNode)
    );
}

#[test]
fn multi_read_answers_each_op_on_its_own() {
    let mut h = Harness::new();
    h.run(create("/a", 0));
    let r = h.read(Request::MultiRead(vec![
        Request::GetChildren { path: "/".into(), watch: false },
        Request::GetData { path: "/nope".into(), watch: false },
        Request::GetData { path: "/a".into(), watch: false },
    ]));
    let Ok(Response::Multi(v)) = r else { panic!() };
    assert_eq!(v[0], OpResult::GetChildren { children: vec!["a".into(), "zookeeper".into()] });
    assert_eq!(v[1], OpResult::Error { err: KeeperError::NoNode.code() });
    assert!(matches!(&v[2], OpResult::GetData { data, .. } if data.as_deref() == Some(&b"v"[..])));
    assert_eq!(
        h.read(Request::GetAllChildrenNumber { path: "/".into() }),
        Ok(Response::AllChildrenNumber(4))
    );
}
