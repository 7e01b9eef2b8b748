//! The fuzz targets' seed corpora (fuzz/seeds/<target>/) are real encodings of the current
//! formats, and every seed is still accepted by the decoder its target starts from.
//!
//! A seed that no longer decodes (because a format changed) would leave its target to
//! rediscover the format from nothing; this test catches that. Regenerate the seeds with
//! `KEEPER_WRITE_FUZZ_SEEDS=1 cargo test -p keeper-core --test fuzz_seeds` and commit them.
//! Each seed file starts with the byte the target reads as its mode (see fuzz/fuzz_targets).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use keeper_core::persist::{self, encode_log_header, scan_log, End};
use keeper_core::proto::{
    op, Acl, ConnectRequest, CreateOp, CreateRequest, Id, OpResult, Request, Response, Stat,
    WatchedEvent,
};
use keeper_core::tree::DataTree;
use keeper_core::txn::{Txn, TxnHeader, TxnRecord};
use keeper_core::wire::codec;
use keeper_core::zoocfg::ZooCfg;
use keeper_core::{SessionId, Zxid};

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds")
}

fn create(path: &str, flags: i32) -> Request {
    Request::Create(CreateRequest {
        op: CreateOp::Create2,
        path: path.to_string(),
        data: Some(Bytes::from_static(b"v")),
        acl: vec![Acl { perms: 31, id: Id::new("digest", "bob:x1Ue1VMW0kbFnrGJc1yeOBC8Eh0=") }],
        flags,
        ttl: None,
    })
}

/// One request of each shape the decoder distinguishes.
fn requests() -> Vec<Request> {
    let p = || "/app/node".to_string();
    vec![
        create("/app/seq-", 2),
        Request::Create(CreateRequest {
            op: CreateOp::CreateTtl,
            path: p(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 5,
            ttl: Some(60_000),
        }),
        Request::Delete { path: p(), version: -1 },
        Request::Exists { path: p(), watch: true },
        Request::GetData { path: p(), watch: false },
        Request::SetData { path: p(), data: Some(Bytes::from_static(b"data")), version: 3 },
        Request::GetAcl { path: p() },
        Request::SetAcl { path: p(), acl: Acl::open_unsafe(), version: 0 },
        Request::GetChildren2 { path: "/".to_string(), watch: true },
        Request::Sync { path: p() },
        Request::Ping,
        Request::Multi(vec![
            create("/m/a", 0),
            Request::Check { path: p(), version: 1 },
            Request::SetData { path: p(), data: None, version: -1 },
            Request::Delete { path: p(), version: -1 },
        ]),
        Request::MultiRead(vec![
            Request::GetChildren { path: "/".to_string(), watch: false },
            Request::GetData { path: p(), watch: false },
        ]),
        Request::Reconfig {
            joining: Some("server.2=h:2888:3888".into()),
            leaving: None,
            new_members: None,
            cur_config_id: -1,
        },
        Request::RemoveWatches { path: p(), watcher_type: 1 },
        Request::DeleteContainer { path: p() },
        Request::Auth { auth_type: 0, scheme: "digest".into(), auth: Bytes::from_static(b"u:p") },
        Request::SetWatches(Box::new(keeper_core::proto::SetWatches {
            relative_zxid: Zxid(0x1_0000_0003),
            data: vec![p()],
            exist: vec!["/gone".into()],
            child: vec!["/".into()],
            persistent: vec![p()],
            persistent_recursive: vec!["/app".into()],
            v2: true,
        })),
        Request::Sasl { token: Bytes::new() },
        Request::GetEphemerals { prefix: "/".into() },
        Request::GetAllChildrenNumber { path: "/".into() },
        Request::AddWatch { path: p(), mode: 1 },
        Request::WhoAmI,
        Request::CloseSession,
    ]
}

fn connect_request(read_only: Option<bool>) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid(0),
        timeout_ms: 30_000,
        session_id: SessionId(0),
        passwd: Bytes::from_static(&[0; 16]),
        read_only,
    }
}

fn record(zxid: u64, txn: Txn) -> TxnRecord {
    let header = TxnHeader { session: SessionId(0x100), cxid: 1, zxid: Zxid(zxid), time_ms: 7 };
    TxnRecord { header, txn }
}

fn records() -> Vec<TxnRecord> {
    let acl = Acl::open_unsafe();
    vec![
        record(0x1_0000_0001, Txn::CreateSession { timeout_ms: 30_000 }),
        record(
            0x1_0000_0002,
            Txn::Create {
                path: "/a".into(),
                data: Some(Bytes::from_static(b"x")),
                acl: acl.clone(),
                ephemeral_owner: 0,
                parent_cversion: 1,
            },
        ),
        record(0x1_0000_0003, Txn::SetData { path: "/a".into(), data: None, version: 1 }),
        record(0x1_0000_0004, Txn::SetAcl { path: "/a".into(), acl, version: 1 }),
        record(
            0x1_0000_0005,
            Txn::Multi(vec![
                Txn::Check { path: "/a".into(), version: 1 },
                Txn::Delete { path: "/a".into() },
            ]),
        ),
        record(0x1_0000_0006, Txn::Error { err: -101 }),
        record(0x1_0000_0007, Txn::CloseSession),
    ]
}

fn log_image() -> Vec<u8> {
    let mut out = encode_log_header(Zxid(0x1_0000_0001)).to_vec();
    for rec in records() {
        persist::log::append_log_record(&mut out, &rec);
    }
    out.extend_from_slice(&[0; 16]);
    out
}

fn snapshot_image() -> Vec<u8> {
    let mut tree = DataTree::new();
    for rec in records() {
        tree.apply(&rec);
    }
    let sessions = [(SessionId(0x100), 30_000), (SessionId(0x101), 4_000)];
    persist::encode_snapshot(Zxid(0x1_0000_0007), &sessions, &tree)
}

const ZOO_CFG: &str = "tickTime=2000\ndataDir=/var/lib/zookeeper\nclientPort=2181\n\
initLimit=5\nsyncLimit=2\nmaxClientCnxns=60\njute.maxbuffer=1048575\n\
4lw.commands.whitelist=srvr, ruok\nserver.1=a:2888:3888\nserver.2=b:2888:3888;2181\n\
autopurge.purgeInterval=1\nDigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n";

const SASL_RESPONSE: &str = "charset=utf-8,username=\"bob\",realm=\"zk-sasl-md5\",\
nonce=\"0123456789abcdef\",nc=00000001,cnonce=\"xyz\",digest-uri=\"zookeeper/zk-sasl-md5\",\
maxbuf=65536,response=d388dad90d4bbd760a152321f2143af7,qop=auth";

/// Every seed, as (target, file name, bytes).
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, read_only) in [("connect-readonly", Some(false)), ("connect-old", None)] {
        let mut bytes = vec![3];
        codec::encode_connect_request(&connect_request(read_only), &mut bytes);
        codec::encode_request(1, &Request::Ping, &mut bytes);
        out.push(("frame_connect", name.to_string(), bytes));
    }
    for req in requests() {
        // Mode byte 0: the input is the body itself, whose first byte is the xid's high byte.
        let mut framed = Vec::new();
        codec::encode_request(0x11, &req, &mut framed);
        out.push(("request", format!("op{}", req.op_code()), framed[4..].to_vec()));
    }
    let stat = Stat { czxid: 2, mzxid: 3, num_children: 1, ..Stat::default() };
    let replies: Vec<(i32, Response)> = vec![
        (op::GET_DATA, Response::GetData { data: Some(Bytes::from_static(b"v")), stat }),
        (op::GET_CHILDREN2, Response::GetChildren2 { children: vec!["a".into()], stat }),
        (op::MULTI, Response::Multi(vec![OpResult::Create { path: "/a".into() }])),
    ];
    for (code, resp) in replies {
        let mut framed = vec![code as u8];
        codec::encode_reply(5, 9, &Ok(resp), &mut framed);
        framed.drain(1..5);
        out.push(("response", format!("op{code}"), framed));
    }
    let event = WatchedEvent {
        event_type: keeper_core::proto::EventType::NodeDataChanged,
        state: 3,
        path: "/a".into(),
    };
    let mut note = vec![0];
    codec::encode_notification(9, &event, &mut note);
    note.drain(1..5);
    out.push(("response", "notification".into(), note));
    out.push(("sasl", "digest-response".into(), SASL_RESPONSE.as_bytes().to_vec()));
    out.push(("zoocfg", "zoo.cfg".into(), ZOO_CFG.as_bytes().to_vec()));
    out.push(("log", "log-image".into(), [&[0u8][..], &log_image()].concat()));
    out.push(("snapshot", "snapshot-image".into(), [&[0u8][..], &snapshot_image()].concat()));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zk38");
    for name in ["snapshot.12", "log.1"] {
        let bytes = std::fs::read(fixtures.join(name)).expect("zk38 fixture");
        out.push(("zkfiles", name.to_string(), bytes));
    }
    out
}

/// What each target's entry decoder says about a seed: Err when it refuses it.
fn accepted(target: &str, bytes: &[u8]) -> Result<(), String> {
    let (mode, rest) = bytes.split_first().ok_or("empty seed")?;
    match target {
        "frame_connect" => {
            assert_eq!(*mode, 3, "the default-limit mode");
            let len = codec::frame_len(rest, 1 << 20).map_err(|l| format!("len {l}"))?;
            let len = len.ok_or("incomplete frame")?;
            codec::decode_connect_request(&rest[4..len]).map(drop).map_err(|e| e.to_string())
        }
        "request" => codec::decode_request(bytes).map(drop).map_err(|e| e.to_string()),
        "response" => {
            let (_, body) = codec::decode_reply_header(rest).map_err(|e| e.to_string())?;
            if *mode == 0 {
                codec::decode_notification(body).map(drop).map_err(|e| e.to_string())
            } else {
                codec::decode_response(i32::from(*mode), body).map(drop).map_err(|e| e.to_string())
            }
        }
        "sasl" => Ok(()),
        "zoocfg" => ZooCfg::parse(&String::from_utf8_lossy(bytes)).map(drop).map_err(|e| e.message),
        "log" => {
            let scan = scan_log(rest);
            match (scan.end, scan.records.len()) {
                (End::Clean, n) if n > 0 => Ok(()),
                other => Err(format!("scan ended {other:?}")),
            }
        }
        "snapshot" => persist::decode_snapshot(rest).map(drop).map_err(|e| e.to_string()),
        "zkfiles" => keeper_core::zkfiles::parse_snapshot(bytes)
            .map(drop)
            .or_else(|_| keeper_core::zkfiles::parse_log(bytes).map(drop)),
        other => Err(format!("no fuzz target {other}")),
    }
}

#[test]
fn every_seed_decodes_and_matches_the_current_encoders() {
    let dir = seeds_dir();
    let write = std::env::var_os("KEEPER_WRITE_FUZZ_SEEDS").is_some();
    for (target, name, bytes) in seeds() {
        let path = dir.join(target).join(&name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let stored = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (regenerate the seeds)", path.display()));
        assert!(stored == bytes, "{} differs from the current encoding", path.display());
        if let Err(why) = accepted(target, &stored) {
            panic!("{}: the target's decoder refuses its own seed: {why}", path.display());
        }
    }
}

#[test]
fn seed_corpora_stay_small() {
    let mut total = 0;
    for target in std::fs::read_dir(seeds_dir()).unwrap() {
        for seed in std::fs::read_dir(target.unwrap().path()).unwrap() {
            total += seed.unwrap().metadata().unwrap().len();
        }
    }
    assert!(total < 64 * 1024, "fuzz seeds take {total} bytes; keep the repository small");
}
