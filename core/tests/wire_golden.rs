//! Golden wire bytes for every record kind, as hex dumps under `tests/snapshots/`.
//!
//! A changed snapshot means keeper's bytes changed, which any ZooKeeper client would
//! notice: review such diffs against ZK-REFERENCE.md §1-3 (field order, widths, the
//! MultiHeader framing) before accepting them. Each case also decodes its bytes back, and
//! the handshake is additionally checked against bytes typed by hand from the Java
//! client's ConnectRequest, so the snapshots do not merely echo the encoder.

use std::fmt::Write as _;

use bytes::Bytes;
use keeper_core::proto::{
    op, Acl, ClientInfo, ConnectRequest, ConnectResponse, CreateOp, CreateRequest, EventType, Id,
    OpResult, Request, Response, Stat, WatchedEvent,
};
use keeper_core::wire::codec::{
    decode_connect_request, decode_connect_response, decode_notification, decode_reply_header,
    decode_request, decode_response, encode_connect_request, encode_connect_response,
    encode_notification, encode_reply, encode_request,
};
use keeper_core::{KeeperError, SessionId, Zxid};

/// `0000  00 00 00 2d 00 ..  |...-.|`, 16 bytes a line.
fn hexdump(bytes: &[u8]) -> String {
    let mut s = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = line
            .iter()
            .map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' })
            .collect();
        writeln!(s, "{:04x}  {:<47}  |{}|", i * 16, hex.join(" "), ascii).unwrap();
    }
    s
}

/// Labelled dumps, one after another, for one snapshot.
#[derive(Default)]
struct Dumps(String);

impl Dumps {
    fn add(&mut self, label: &str, bytes: &[u8]) {
        writeln!(self.0, "## {label} ({} bytes)", bytes.len()).unwrap();
        self.0.push_str(&hexdump(bytes));
        self.0.push('\n');
    }
}

fn stat() -> Stat {
    Stat {
        czxid: 0x1_0000_0003,
        mzxid: 0x1_0000_0005,
        ctime: 1_760_000_000_000,
        mtime: 1_760_000_001_000,
        version: 2,
        cversion: 1,
        aversion: 0,
        ephemeral_owner: 0x1000_abcd_0000,
        data_length: 3,
        num_children: 1,
        pzxid: 0x1_0000_0004,
    }
}

fn java_new_session(read_only: Option<bool>) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid::ZERO,
        timeout_ms: 30_000,
        session_id: SessionId::NONE,
        passwd: Bytes::from(vec![0u8; 16]),
        read_only,
    }
}

/// The ConnectRequest frame the Java client (ClientCnxn.primeConnection) sends for a new
/// session with a 30 s timeout, typed by hand from the record's field list.
fn java_new_session_bytes(with_read_only: bool) -> Vec<u8> {
    let mut v = vec![0, 0, 0, if with_read_only { 45 } else { 44 }]; // frame length
    v.extend_from_slice(&[0, 0, 0, 0]); // protocolVersion
    v.extend_from_slice(&[0; 8]); // lastZxidSeen
    v.extend_from_slice(&[0, 0, 0x75, 0x30]); // timeOut = 30000
    v.extend_from_slice(&[0; 8]); // sessionId
    v.extend_from_slice(&[0, 0, 0, 16]); // passwd length
    v.extend_from_slice(&[0; 16]); // passwd
    if with_read_only {
        v.push(0); // readOnly = false
    }
    v
}

#[test]
fn handshake() {
    let mut dumps = Dumps::default();
    for (with, label) in [(true, "with readOnly"), (false, "without readOnly (3.3 client)")] {
        let req = java_new_session(with.then_some(false));
        let mut out = Vec::new();
        encode_connect_request(&req, &mut out);
        assert_eq!(out, java_new_session_bytes(with), "{label}");
        assert_eq!(decode_connect_request(&out[4..]), Ok(req));
        dumps.add(&format!("ConnectRequest, new session, {label}"), &out);
    }

    let reconnect = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid::new(1, 3),
        timeout_ms: 10_000,
        session_id: SessionId(0x1000_abcd_0000),
        passwd: Bytes::from_static(b"0123456789abcdef"),
        read_only: Some(true),
    };
    let mut out = Vec::new();
    encode_connect_request(&reconnect, &mut out);
    assert_eq!(decode_connect_request(&out[4..]), Ok(reconnect));
    dumps.add("ConnectRequest, reconnect, canBeReadOnly", &out);

    let accepted = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 30_000,
        session_id: SessionId(0x1000_abcd_0000),
        passwd: Bytes::from_static(b"0123456789abcdef"),
        read_only: Some(false),
    };
    let expired = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 0,
        session_id: SessionId::NONE,
        passwd: Bytes::from(vec![0u8; 16]),
        read_only: Some(false),
    };
    let old_client = ConnectResponse { read_only: None, ..accepted.clone() };
    for (resp, label) in [
        (accepted, "ConnectResponse, accepted"),
        (old_client, "ConnectResponse to a client that sent no readOnly"),
        (expired, "ConnectResponse, session expired"),
    ] {
        let mut out = Vec::new();
        encode_connect_response(&resp, &mut out);
        assert_eq!(decode_connect_response(&out[4..]), Ok(resp));
        dumps.add(label, &out);
    }
    insta::assert_snapshot!("handshake", dumps.0);
}

fn create(create_op: CreateOp, flags: i32, ttl: Option<i64>) -> Request {
    Request::Create(CreateRequest {
        op: create_op,
        path: "/app/lock-".into(),
        data: Some(Bytes::from_static(b"hi")),
        acl: Acl::open_unsafe(),
        flags,
        ttl,
    })
}

/// One request per opcode, with the xid the Java client would use for it.
fn every_request() -> Vec<(i32, &'static str, Request)> {
    let digest = Acl { perms: 31, id: Id::new("digest", "bob:Zm9v") };
    vec![
        (1, "create (1), ephemeral sequential", create(CreateOp::Create, 3, None)),
        (2, "delete (2)", Request::Delete { path: "/a".into(), version: -1 }),
        (3, "exists (3) with watch", Request::Exists { path: "/a".into(), watch: true }),
        (4, "getData (4)", Request::GetData { path: "/a".into(), watch: false }),
        (
            5,
            "setData (5)",
            Request::SetData {
                path: "/a".into(),
                data: Some(Bytes::from_static(b"v2")),
                version: 1,
            },
        ),
        (6, "getACL (6)", Request::GetAcl { path: "/a".into() }),
        (7, "setACL (7)", Request::SetAcl { path: "/a".into(), acl: vec![digest], version: 0 }),
        (8, "getChildren (8)", Request::GetChildren { path: "/".into(), watch: true }),
        (9, "sync (9)", Request::Sync { path: "/a".into() }),
        (-2, "ping (11)", Request::Ping),
        (10, "getChildren2 (12)", Request::GetChildren2 { path: "/".into(), watch: false }),
        (11, "check (13)", Request::Check { path: "/a".into(), version: 4 }),
        (12, "create2 (15)", create(CreateOp::Create2, 0, None)),
        (
            13,
            "reconfig (16), incremental",
            Request::Reconfig {
                joining: Some("server.4=h4:2888:3888;2181".into()),
                leaving: Some("2".into()),
                new_members: None,
                cur_config_id: -1,
            },
        ),
        (14, "checkWatches (17)", Request::CheckWatches { path: "/a".into(), watcher_type: 2 }),
        (15, "removeWatches (18)", Request::RemoveWatches { path: "/a".into(), watcher_type: 3 }),
        (16, "createContainer (19)", create(CreateOp::CreateContainer, 4, None)),
        (17, "deleteContainer (20)", Request::DeleteContainer { path: "/c".into() }),
        (18, "createTTL (21)", create(CreateOp::CreateTtl, 5, Some(60_000))),
        (
            -4,
            "auth (100)",
            Request::Auth {
                auth_type: 0,
                scheme: "digest".into(),
                auth: Bytes::from_static(b"bob:pw"),
            },
        ),
        (
            -8,
            "setWatches (101)",
            Request::SetWatches(Box::new(keeper_core::proto::SetWatches {
                relative_zxid: Zxid::new(1, 5),
                data: vec!["/a".into()],
                exist: vec!["/b".into()],
                child: vec!["/".into()],
                persistent: vec![],
                persistent_recursive: vec![],
                v2: false,
            })),
        ),
        (19, "sasl (102)", Request::Sasl { token: Bytes::from_static(&[0x60, 0x82]) }),
        (20, "getEphemerals (103)", Request::GetEphemerals { prefix: "/app".into() }),
        (21, "getAllChildrenNumber (104)", Request::GetAllChildrenNumber { path: "/".into() }),
        (
            -8,
            "setWatches2 (105)",
            Request::SetWatches(Box::new(keeper_core::proto::SetWatches {
                relative_zxid: Zxid::new(1, 5),
                data: vec![],
                exist: vec![],
                child: vec![],
                persistent: vec!["/p".into()],
                persistent_recursive: vec!["/r".into()],
                v2: true,
            })),
        ),
        (22, "addWatch (106), recursive", Request::AddWatch { path: "/a".into(), mode: 1 }),
        (23, "whoAmI (107)", Request::WhoAmI),
        (24, "closeSession (-11)", Request::CloseSession),
    ]
}

#[test]
fn requests() {
    let mut dumps = Dumps::default();
    for (xid, label, req) in every_request() {
        let mut out = Vec::new();
        encode_request(xid, &req, &mut out);
        assert_eq!(decode_request(&out[4..]), Ok((xid, req)), "{label}");
        dumps.add(label, &out);
    }
    insta::assert_snapshot!("requests", dumps.0);
}

#[test]
fn multi_requests() {
    let transaction = Request::Multi(vec![
        create(CreateOp::Create, 0, None),
        Request::Delete { path: "/a".into(), version: 2 },
        Request::SetData { path: "/b".into(), data: Some(Bytes::from_static(b"x")), version: -1 },
        Request::Check { path: "/c".into(), version: 7 },
        create(CreateOp::CreateTtl, 6, Some(1000)),
    ]);
    let read = Request::MultiRead(vec![
        Request::GetChildren { path: "/".into(), watch: false },
        Request::GetData { path: "/a".into(), watch: false },
    ]);
    let mut dumps = Dumps::default();
    for (label, req) in [
        ("multi (14): create, delete, setData, check, createTTL", transaction),
        ("multiRead (22): getChildren, getData", read),
        ("multi (14), empty", Request::Multi(vec![])),
    ] {
        let mut out = Vec::new();
        encode_request(30, &req, &mut out);
        assert_eq!(decode_request(&out[4..]), Ok((30, req)), "{label}");
        dumps.add(label, &out);
    }
    insta::assert_snapshot!("multi_requests", dumps.0);
}

/// One successful reply per response record, with the opcode it answers.
fn every_response() -> Vec<(i32, &'static str, Response)> {
    let children = vec!["zookeeper".to_string(), "app".to_string()];
    vec![
        (op::DELETE, "header only (delete)", Response::Empty),
        (op::CREATE, "CreateResponse", Response::Create { path: "/app/lock-0000000007".into() }),
        (
            op::CREATE2,
            "Create2Response",
            Response::Create2 { path: "/app/lock-0000000007".into(), stat: stat() },
        ),
        (op::EXISTS, "ExistsResponse / SetDataResponse / SetACLResponse", Response::Stat(stat())),
        (
            op::GET_DATA,
            "GetDataResponse",
            Response::GetData { data: Some(Bytes::from_static(b"abc")), stat: stat() },
        ),
        (op::GET_ACL, "GetACLResponse", Response::GetAcl { acl: Acl::read_unsafe(), stat: stat() }),
        (
            op::GET_CHILDREN,
            "GetChildrenResponse",
            Response::GetChildren { children: children.clone() },
        ),
        (
            op::GET_CHILDREN2,
            "GetChildren2Response",
            Response::GetChildren2 { children, stat: stat() },
        ),
        (op::SYNC, "SyncResponse", Response::Sync { path: "/a".into() }),
        (op::SASL, "SetSASLResponse", Response::Sasl { token: Bytes::from_static(&[1, 2]) }),
        (
            op::GET_EPHEMERALS,
            "GetEphemeralsResponse",
            Response::GetEphemerals { paths: vec!["/app/e1".into()] },
        ),
        (
            op::GET_ALL_CHILDREN_NUMBER,
            "GetAllChildrenNumberResponse",
            Response::AllChildrenNumber(3),
        ),
        (op::ADD_WATCH, "addWatch: ErrorResponse{0}", Response::AddWatch),
        (
            op::WHO_AM_I,
            "WhoAmIResponse",
            Response::WhoAmI(vec![ClientInfo {
                auth_scheme: "ip".into(),
                user: "127.0.0.1".into(),
            }]),
        ),
    ]
}

#[test]
fn replies() {
    let mut dumps = Dumps::default();
    for (code, label, resp) in every_response() {
        let mut out = Vec::new();
        encode_reply(9, 0x1_0000_0005, &Ok(resp.clone()), &mut out);
        let (header, body) = decode_reply_header(&out[4..]).unwrap();
        assert_eq!((header.xid, header.zxid, header.err), (9, 0x1_0000_0005, 0));
        assert_eq!(decode_response(code, body), Ok(resp), "{label}");
        dumps.add(label, &out);
    }
    let mut out = Vec::new();
    encode_reply(9, 0x1_0000_0005, &Err(KeeperError::NoNode), &mut out);
    dumps.add("error reply: NONODE (-101), header only", &out);
    let mut out = Vec::new();
    encode_reply(-2, 0x1_0000_0005, &Ok(Response::Empty), &mut out);
    dumps.add("ping reply (xid -2)", &out);
    insta::assert_snapshot!("replies", dumps.0);
}

#[test]
fn multi_replies() {
    let succeeded = Response::Multi(vec![
        OpResult::Create { path: "/a".into() },
        OpResult::Create2 { path: "/t".into(), stat: stat() },
        OpResult::Delete,
        OpResult::SetData { stat: stat() },
        OpResult::Check,
    ]);
    // A failed multi: ops before the failing one carry 0, the failing op its code, ops after
    // it RUNTIMEINCONSISTENCY (-2), all as error results.
    let failed = Response::Multi(vec![
        OpResult::Error { err: 0 },
        OpResult::Error { err: -103 },
        OpResult::Error { err: -2 },
    ]);
    let read = Response::Multi(vec![
        OpResult::GetChildren { children: vec!["x".into()] },
        OpResult::Error { err: -101 },
        OpResult::GetData { data: Some(Bytes::from_static(b"d")), stat: stat() },
    ]);
    let mut dumps = Dumps::default();
    for (code, label, resp) in [
        (op::MULTI, "multi succeeded", succeeded),
        (op::MULTI, "multi failed at op 2 (BADVERSION)", failed),
        (op::MULTI_READ, "multiRead with a missing node", read),
    ] {
        let mut out = Vec::new();
        encode_reply(4, 0x2_0000_0001, &Ok(resp.clone()), &mut out);
        let (_, body) = decode_reply_header(&out[4..]).unwrap();
        assert_eq!(decode_response(code, body), Ok(resp), "{label}");
        dumps.add(label, &out);
    }
    insta::assert_snapshot!("multi_replies", dumps.0);
}

#[test]
fn notification() {
    let event = WatchedEvent {
        event_type: EventType::NodeDataChanged,
        state: 3,
        path: "/app/config".into(),
    };
    let mut out = Vec::new();
    encode_notification(0x1_0000_0009, &event, &mut out);
    let (header, body) = decode_reply_header(&out[4..]).unwrap();
    assert_eq!((header.xid, header.zxid, header.err), (-1, 0x1_0000_0009, 0));
    assert_eq!(decode_notification(body), Ok(event));
    let mut dumps = Dumps::default();
    dumps.add("notification: NodeDataChanged, SyncConnected, /app/config", &out);
    insta::assert_snapshot!("notification", dumps.0);
}
