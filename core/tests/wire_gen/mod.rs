//! proptest generators for the wire tests: every request, response and handshake record.
//!
//! Values are deliberately small (a handful of paths, short data, short lists) so that a
//! shrunk failure reads like a hand-written case. Each generator only yields values a
//! client or server could actually put on the wire: a ttl only with createTTL, persistent
//! watches only in setWatches2, multi sub-ops of the multi's own kind, and for responses
//! an opcode that answers with that variant.

#![allow(dead_code)]

use bytes::Bytes;
use keeper_core::proto::{
    op, Acl, ClientInfo, ConnectRequest, ConnectResponse, CreateOp, CreateRequest, EventType, Id,
    OpResult, Request, Response, Stat, WatchedEvent,
};
use keeper_core::{KeeperError, SessionId, Zxid};
use proptest::prelude::*;
use proptest::sample::select;

/// A short path, mostly valid, sometimes empty or non-ASCII (the codec does not judge paths).
pub fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["/", "/a", "/a/b", "/zookeeper/config", "", "/é"]).prop_map(String::from),
        "(/[a-c]{1,2}){1,2}",
    ]
}

pub fn paths() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(path(), 0..3)
}

pub fn data() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..5).prop_map(Bytes::from)
}

/// Znode data: null (`None`) must round-trip apart from empty.
pub fn znode_data() -> impl Strategy<Value = Option<Bytes>> {
    prop::option::of(data())
}

pub fn acl() -> impl Strategy<Value = Acl> {
    let ids = select(vec![("world", "anyone"), ("auth", ""), ("digest", "u:h="), ("ip", "::1")]);
    (select(vec![31, 1, 0, 4, 17, -1]), ids)
        .prop_map(|(perms, (scheme, id))| Acl { perms, id: Id::new(scheme, id) })
}

pub fn acls() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(acl(), 0..3)
}

pub fn stat() -> impl Strategy<Value = Stat> {
    (prop::array::uniform6(any::<i64>()), prop::array::uniform5(any::<i32>())).prop_map(|(l, i)| {
        Stat {
            czxid: l[0],
            mzxid: l[1],
            ctime: l[2],
            mtime: l[3],
            version: i[0],
            cversion: i[1],
            aversion: i[2],
            ephemeral_owner: l[4],
            data_length: i[3],
            num_children: i[4],
            pzxid: l[5],
        }
    })
}

pub fn create() -> impl Strategy<Value = Request> {
    let ops = select(vec![
        CreateOp::Create,
        CreateOp::Create2,
        CreateOp::CreateContainer,
        CreateOp::CreateTtl,
    ]);
    (ops, path(), znode_data(), acls(), 0..7i32, any::<i64>()).prop_map(
        |(create_op, path, data, acl, flags, ttl)| {
            let ttl = (create_op == CreateOp::CreateTtl).then_some(ttl);
            Request::Create(CreateRequest { op: create_op, path, data, acl, flags, ttl })
        },
    )
}

/// Sub-ops a multi (op 14) carries.
pub fn write_sub_op() -> impl Strategy<Value = Request> {
    prop_oneof![
        create(),
        (path(), any::<i32>()).prop_map(|(path, version)| Request::Delete { path, version }),
        (path(), znode_data(), any::<i32>()).prop_map(|(path, data, version)| Request::SetData {
            path,
            data,
            version
        }),
        (path(), any::<i32>()).prop_map(|(path, version)| Request::Check { path, version }),
    ]
}

/// Sub-ops a multiRead (op 22) carries.
pub fn read_sub_op() -> impl Strategy<Value = Request> {
    prop_oneof![
        (path(), any::<bool>()).prop_map(|(path, watch)| Request::GetChildren { path, watch }),
        (path(), any::<bool>()).prop_map(|(path, watch)| Request::GetData { path, watch }),
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(select(vec!["", "server.4=h:2888:3888;2181", "4,5"]).prop_map(String::from))
}

fn set_watches() -> impl Strategy<Value = Request> {
    (any::<i64>(), paths(), paths(), paths(), paths(), paths(), any::<bool>()).prop_map(
        |(zxid, data, exist, child, persistent, recursive, v2)| {
            Request::SetWatches(Box::new(keeper_core::proto::SetWatches {
                relative_zxid: Zxid::from_i64(zxid),
                data,
                exist,
                child,
                persistent: if v2 { persistent } else { Vec::new() },
                persistent_recursive: if v2 { recursive } else { Vec::new() },
                v2,
            }))
        },
    )
}

/// Every request variant a client can send.
pub fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        create(),
        write_sub_op(),
        read_sub_op(),
        (path(), any::<bool>()).prop_map(|(path, watch)| Request::Exists { path, watch }),
        (path(), any::<bool>()).prop_map(|(path, watch)| Request::GetChildren2 { path, watch }),
        path().prop_map(|path| Request::GetAcl { path }),
        (path(), acls(), any::<i32>()).prop_map(|(path, acl, version)| Request::SetAcl {
            path,
            acl,
            version
        }),
        path().prop_map(|path| Request::Sync { path }),
        Just(Request::Ping),
        prop::collection::vec(write_sub_op(), 0..4).prop_map(Request::Multi),
        (opt_text(), opt_text(), opt_text(), any::<i64>()).prop_map(|(j, l, n, id)| {
            Request::Reconfig { joining: j, leaving: l, new_members: n, cur_config_id: id }
        }),
        (path(), 0..6i32)
            .prop_map(|(path, watcher_type)| Request::CheckWatches { path, watcher_type }),
        (path(), 0..6i32)
            .prop_map(|(path, watcher_type)| Request::RemoveWatches { path, watcher_type }),
        path().prop_map(|path| Request::DeleteContainer { path }),
        prop::collection::vec(read_sub_op(), 0..4).prop_map(Request::MultiRead),
        (0..2i32, select(vec!["digest", "ip", "sasl"]), data()).prop_map(
            |(auth_type, scheme, auth)| Request::Auth { auth_type, scheme: scheme.into(), auth }
        ),
        set_watches(),
        data().prop_map(|token| Request::Sasl { token }),
        path().prop_map(|prefix| Request::GetEphemerals { prefix }),
        path().prop_map(|path| Request::GetAllChildrenNumber { path }),
        (path(), 0..3i32).prop_map(|(path, mode)| Request::AddWatch { path, mode }),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
}

pub fn op_result() -> impl Strategy<Value = OpResult> {
    prop_oneof![
        path().prop_map(|path| OpResult::Create { path }),
        (path(), stat()).prop_map(|(path, stat)| OpResult::Create2 { path, stat }),
        Just(OpResult::Delete),
        stat().prop_map(|stat| OpResult::SetData { stat }),
        Just(OpResult::Check),
        paths().prop_map(|children| OpResult::GetChildren { children }),
        (znode_data(), stat()).prop_map(|(data, stat)| OpResult::GetData { data, stat }),
        select(vec![0, -2, -101, -103, -110]).prop_map(|err| OpResult::Error { err }),
    ]
}

/// A successful response with an opcode whose reply carries exactly that record.
pub fn op_and_response() -> impl Strategy<Value = (i32, Response)> {
    let header_only = select(vec![
        op::DELETE,
        op::PING,
        op::CHECK,
        op::CHECK_WATCHES,
        op::REMOVE_WATCHES,
        op::DELETE_CONTAINER,
        op::AUTH,
        op::SET_WATCHES,
        op::SET_WATCHES2,
        op::CLOSE_SESSION,
    ]);
    let infos = prop::collection::vec(
        (select(vec!["ip", "digest"]), select(vec!["127.0.0.1", "bob"]))
            .prop_map(|(s, u)| ClientInfo { auth_scheme: s.into(), user: u.into() }),
        0..3,
    );
    prop_oneof![
        header_only.prop_map(|code| (code, Response::Empty)),
        path().prop_map(|path| (op::CREATE, Response::Create { path })),
        (select(vec![op::CREATE2, op::CREATE_CONTAINER, op::CREATE_TTL]), path(), stat())
            .prop_map(|(code, path, stat)| (code, Response::Create2 { path, stat })),
        (select(vec![op::EXISTS, op::SET_DATA, op::SET_ACL]), stat())
            .prop_map(|(code, stat)| (code, Response::Stat(stat))),
        (select(vec![op::GET_DATA, op::RECONFIG]), znode_data(), stat())
            .prop_map(|(code, data, stat)| (code, Response::GetData { data, stat })),
        (acls(), stat()).prop_map(|(acl, stat)| (op::GET_ACL, Response::GetAcl { acl, stat })),
        paths().prop_map(|children| (op::GET_CHILDREN, Response::GetChildren { children })),
        (paths(), stat()).prop_map(|(children, stat)| {
            (op::GET_CHILDREN2, Response::GetChildren2 { children, stat })
        }),
        path().prop_map(|path| (op::SYNC, Response::Sync { path })),
        (select(vec![op::MULTI, op::MULTI_READ]), prop::collection::vec(op_result(), 0..4))
            .prop_map(|(code, results)| (code, Response::Multi(results))),
        data().prop_map(|token| (op::SASL, Response::Sasl { token })),
        paths().prop_map(|paths| (op::GET_EPHEMERALS, Response::GetEphemerals { paths })),
        any::<i32>().prop_map(|n| (op::GET_ALL_CHILDREN_NUMBER, Response::AllChildrenNumber(n))),
        Just((op::ADD_WATCH, Response::AddWatch)),
        infos.prop_map(|infos| (op::WHO_AM_I, Response::WhoAmI(infos))),
    ]
}

pub fn keeper_error() -> impl Strategy<Value = KeeperError> {
    select(KeeperError::ALL.to_vec())
}

pub fn connect_request() -> impl Strategy<Value = ConnectRequest> {
    (any::<i32>(), any::<i64>(), any::<i32>(), any::<i64>(), data(), any::<Option<bool>>())
        .prop_map(|(version, zxid, timeout_ms, session, passwd, read_only)| ConnectRequest {
            protocol_version: version,
            last_zxid_seen: Zxid::from_i64(zxid),
            timeout_ms,
            session_id: SessionId(session),
            passwd,
            read_only,
        })
}

pub fn connect_response() -> impl Strategy<Value = ConnectResponse> {
    (any::<i32>(), any::<i32>(), any::<i64>(), data(), any::<Option<bool>>()).prop_map(
        |(version, timeout_ms, session, passwd, read_only)| ConnectResponse {
            protocol_version: version,
            timeout_ms,
            session_id: SessionId(session),
            passwd,
            read_only,
        },
    )
}

pub fn watched_event() -> impl Strategy<Value = WatchedEvent> {
    let types = select(vec![
        EventType::NodeCreated,
        EventType::NodeDeleted,
        EventType::NodeDataChanged,
        EventType::NodeChildrenChanged,
        EventType::None,
        EventType::DataWatchRemoved,
        EventType::ChildWatchRemoved,
        EventType::PersistentWatchRemoved,
    ]);
    (types, select(vec![3, 0, -112]), path()).prop_map(|(event_type, state, path)| WatchedEvent {
        event_type,
        state,
        path,
    })
}
