//! The tree and request pipeline against a deliberately dumb model (STYLE.md §10): a
//! BTreeMap of path → (data, version, ephemeral). A `Restart` step round-trips the tree
//! through encode_snapshot/decode_snapshot and checks the digest survives.

use std::collections::BTreeMap;

use bytes::Bytes;
use keeper_core::acl::AuthContext;
use keeper_core::config::Config;
use keeper_core::ids::{SessionId, Zxid};
use keeper_core::proto::{Acl, CreateOp, CreateRequest, Request};
use keeper_core::request::{prepare, PrepContext};
use keeper_core::tree::{DataTree, TxnResult};
use keeper_core::txn::{TxnHeader, TxnRecord};
use keeper_core::wire::jute::{Reader, Writer};
use keeper_core::KeeperError;
use proptest::prelude::*;

const PATHS: [&str; 5] = ["/a", "/b", "/a/x", "/a/y", "/b/x"];

#[derive(Clone, Debug)]
enum Op {
    Create { p: usize, ephemeral: bool },
    Delete { p: usize, version: i32 },
    SetData { p: usize, byte: u8, version: i32 },
    Multi(Vec<Op>),
    Restart,
}

type Model = BTreeMap<String, (Vec<u8>, i32, bool)>;

fn op() -> impl Strategy<Value = Op> {
    let leaf = prop_oneof![
        (0..5usize, any::<bool>()).prop_map(|(p, ephemeral)| Op::Create { p, ephemeral }),
        (0..5usize, -1..2i32).prop_map(|(p, version)| Op::Delete { p, version }),
        (0..5usize, any::<u8>(), -1..2i32).prop_map(|(p, byte, version)| Op::SetData {
            p,
            byte,
            version
        }),
    ];
    prop_oneof![
        6 => leaf.clone(),
        2 => prop::collection::vec(leaf, 1..4).prop_map(Op::Multi),
        1 => Just(Op::Restart),
    ]
}

fn request(op: &Op) -> Request {
    match op {
        Op::Create { p, ephemeral } => Request::Create(CreateRequest {
            op: CreateOp::Create,
            path: PATHS[*p].into(),
            data: Some(Bytes::new()),
            acl: Acl::open_unsafe(),
            flags: *ephemeral as i32,
            ttl: None,
        }),
        Op::Delete { p, version } => Request::Delete { path: PATHS[*p].into(), version: *version },
        Op::SetData { p, byte, version } => Request::SetData {
            path: PATHS[*p].into(),
            data: Some(Bytes::from(vec![*byte])),
            version: *version,
        },
        Op::Multi(ops) => Request::Multi(ops.iter().map(request).collect()),
        Op::Restart => unreachable!(),
    }
}

fn parent(p: &str) -> &str {
    &p[..p.rfind('/').unwrap().max(1)]
}

/// The model's answer: Ok(()) and the change made, or the error code.
fn model_apply(m: &mut Model, op: &Op) -> Result<(), KeeperError> {
    match op {
        Op::Create { p, ephemeral } => {
            let path = PATHS[*p];
            let par = parent(path);
            if par != "/" && !m.contains_key(par) {
                return Err(KeeperError::NoNode);
            }
            if m.contains_key(path) {
                return Err(KeeperError::NodeExists);
            }
            if par != "/" && m[par].2 {
                return Err(KeeperError::NoChildrenForEphemerals);
            }
            m.insert(path.into(), (vec![], 0, *ephemeral));
        }
        Op::Delete { p, version } => {
            let path = PATHS[*p];
            let Some(n) = m.get(path) else { return Err(KeeperError::NoNode) };
            if *version != -1 && *version != n.1 {
                return Err(KeeperError::BadVersion);
            }
            if m.keys().any(|k| k.starts_with(&format!("{path}/"))) {
                return Err(KeeperError::NotEmpty);
            }
            m.remove(path);
        }
        Op::SetData { p, byte, version } => {
            let Some(n) = m.get_mut(PATHS[*p]) else { return Err(KeeperError::NoNode) };
            if *version != -1 && *version != n.1 {
                return Err(KeeperError::BadVersion);
            }
            n.0 = vec![*byte];
            n.1 += 1;
        }
        Op::Multi(_) | Op::Restart => unreachable!(),
    }
    Ok(())
}

fn first_error(r: &TxnResult) -> Option<i32> {
    match r {
        TxnResult::Error { err } => Some(*err),
        TxnResult::Multi(v) => v.iter().filter_map(first_error).find(|e| *e != 0),
        _ => None,
    }
}

proptest! {
    #[test]
    fn tree_matches_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let config = Config::standalone(2000);
        let auth = AuthContext::default();
        let mut tree = DataTree::new();
        let mut model = Model::new();
        for (i, op) in ops.iter().enumerate() {
            if let Op::Restart = op {
                let mut w = Writer::new();
                tree.encode_snapshot(&mut w);
                let bytes = w.into_vec();
                let back = DataTree::decode_snapshot(&mut Reader::new(&bytes)).unwrap();
                prop_assert_eq!(back.digest(), tree.digest());
                prop_assert_eq!(back.last_zxid(), tree.last_zxid());
                tree = back;
                continue;
            }
            let expected = match op {
                Op::Multi(sub) => {
                    let mut scratch = model.clone();
                    let r = sub.iter().try_for_each(|o| model_apply(&mut scratch, o));
                    if r.is_ok() { model = scratch; }
                    r
                }
                _ => model_apply(&mut model, op),
            };
            let zxid = Zxid(i as u64 + 1);
            let ctx = PrepContext { session: SessionId(9), auth: &auth, config: &config, zxid, time_ms: 1 };
            let txn = prepare(&tree, &ctx, &request(op));
            let header = TxnHeader { session: SessionId(9), cxid: 0, zxid, time_ms: 1 };
            let applied = tree.apply(&TxnRecord { header, txn });
            prop_assert_eq!(first_error(&applied.result), expected.err().map(|e| e.code()), "{:?}", op);
        }
        prop_assert_eq!(tree.node_count(), model.len() + 4);
        for (p, (data, version, ephemeral)) in &model {
            let n = tree.get(p).unwrap();
            prop_assert_eq!(n.data.map(|d| &d[..]).unwrap_or_default(), &data[..]);
            prop_assert_eq!(n.stat.version, *version);
            prop_assert_eq!(n.stat.ephemeral_owner != 0, *ephemeral);
        }
        // A tree rebuilt from scratch in path order has the same digest.
        let mut w = Writer::new();
        tree.encode_snapshot(&mut w);
        let bytes = w.into_vec();
        prop_assert_eq!(DataTree::decode_snapshot(&mut Reader::new(&bytes)).unwrap().digest(), tree.digest());
    }
}
