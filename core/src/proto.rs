//! The ZooKeeper client protocol as Rust values: requests, responses, and the records
//! inside them (ZK-REFERENCE.md §1-3, `zookeeper.jute`).
//!
//! These types are what the codec in [`crate::wire`] decodes bytes into and encodes back,
//! and what [`crate::node::Node`] consumes and produces. They carry no behaviour beyond
//! small accessors; every field keeps its Jute width (`i32`/`i64`), because these values
//! round-trip to the wire unchanged.

use bytes::Bytes;

use crate::error::KeeperError;
use crate::ids::{SessionId, Zxid};

/// ZooKeeper op codes (`ZooDefs.OpCode`), in the spec's order.
pub mod op {
    pub const NOTIFICATION: i32 = 0;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_ACL: i32 = 6;
    pub const SET_ACL: i32 = 7;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CHECK_WATCHES: i32 = 17;
    pub const REMOVE_WATCHES: i32 = 18;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const MULTI_READ: i32 = 22;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const SASL: i32 = 102;
    pub const GET_EPHEMERALS: i32 = 103;
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    pub const SET_WATCHES2: i32 = 105;
    pub const ADD_WATCH: i32 = 106;
    pub const WHO_AM_I: i32 = 107;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

/// Permission bits (`ZooDefs.Perms`).
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = 31;
}

/// Watch event types (`Watcher.Event.EventType`). The server only sends 1-4.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum EventType {
    None = -1,
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
    DataWatchRemoved = 5,
    ChildWatchRemoved = 6,
    PersistentWatchRemoved = 7,
}

impl EventType {
    /// The type for a wire value.
    pub fn from_code(code: i32) -> Option<EventType> {
        use EventType::*;
        Some(match code {
            -1 => None,
            1 => NodeCreated,
            2 => NodeDeleted,
            3 => NodeDataChanged,
            4 => NodeChildrenChanged,
            5 => DataWatchRemoved,
            6 => ChildWatchRemoved,
            7 => PersistentWatchRemoved,
            _ => return Option::None,
        })
    }
}

/// Keeper states (`Watcher.Event.KeeperState`); the server sends SyncConnected (3).
pub mod keeper_state {
    pub const DISCONNECTED: i32 = 0;
    pub const SYNC_CONNECTED: i32 = 3;
    pub const AUTH_FAILED: i32 = 4;
    pub const CONNECTED_READ_ONLY: i32 = 5;
    pub const EXPIRED: i32 = -112;
    pub const CLOSED: i32 = 7;
}

/// The `type` of checkWatches/removeWatches (`Watcher.WatcherType`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum WatcherType {
    Children = 1,
    Data = 2,
    Any = 3,
    Persistent = 4,
    PersistentRecursive = 5,
}

impl WatcherType {
    /// The type for a wire value.
    pub fn from_code(code: i32) -> Option<WatcherType> {
        Some(match code {
            1 => WatcherType::Children,
            2 => WatcherType::Data,
            3 => WatcherType::Any,
            4 => WatcherType::Persistent,
            5 => WatcherType::PersistentRecursive,
            _ => return None,
        })
    }
}

/// addWatch modes (`AddWatchMode`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum AddWatchMode {
    Persistent = 0,
    PersistentRecursive = 1,
}

/// Node metadata as the client sees it (68 bytes on the wire, this field order).
///
/// `cversion` here is the client-visible value (creates + deletes of children), not the
/// stored creation counter; see `tree` for the conversion.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

/// An identity: a scheme and an id within it (`world:anyone`, `digest:u:hash`, `ip:1.2.3.4`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    /// Builds an id from its two parts.
    pub fn new(scheme: &str, id: &str) -> Id {
        Id { scheme: scheme.to_string(), id: id.to_string() }
    }
}

/// One access-control entry: permission bits granted to an identity.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl Acl {
    /// `OPEN_ACL_UNSAFE`: everything to everyone.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl { perms: perms::ALL, id: Id::new("world", "anyone") }]
    }
    /// `READ_ACL_UNSAFE`: read for everyone.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl { perms: perms::READ, id: Id::new("world", "anyone") }]
    }
    /// `CREATOR_ALL_ACL`: everything to the creator's authenticated ids.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl { perms: perms::ALL, id: Id::new("auth", "") }]
    }
}

/// The first frame a client sends. `read_only` is `None` when the client omitted the
/// optional trailing byte (an "old client"); the response then omits it too.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: Zxid,
    pub timeout_ms: i32,
    pub session_id: SessionId,
    pub passwd: Bytes,
    pub read_only: Option<bool>,
}

impl ConnectRequest {
    /// A request for a new session (no session id, zero password, nothing seen yet) asking
    /// for `timeout_ms`, with `read_only` as sent.
    pub fn new_session(timeout_ms: i32, read_only: Option<bool>) -> ConnectRequest {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid::ZERO,
            timeout_ms,
            session_id: SessionId::NONE,
            passwd: Bytes::from_static(&[0; 16]),
            read_only,
        }
    }
}

/// The server's answer to a ConnectRequest. An expired or invalid session is answered with
/// `timeout_ms = 0`, `session_id = 0` and a zero password, then the connection closes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: SessionId,
    pub passwd: Bytes,
    pub read_only: Option<bool>,
}

/// The header of every request after the handshake.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RequestHeader {
    pub xid: i32,
    pub op: i32,
}

/// The header of every reply and notification.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

/// A watch notification's body (`WatcherEvent`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WatchedEvent {
    pub event_type: EventType,
    pub state: i32,
    pub path: String,
}

/// Which create opcode a create request arrived as; it decides the response record.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CreateOp {
    /// op 1: answers CreateResponse{path}.
    Create,
    /// op 15: answers Create2Response{path, stat}.
    Create2,
    /// op 19: flags must be 4; answers Create2Response.
    CreateContainer,
    /// op 21: carries a ttl; answers Create2Response.
    CreateTtl,
}

impl CreateOp {
    /// The opcode this create arrived as.
    pub const fn code(self) -> i32 {
        match self {
            CreateOp::Create => op::CREATE,
            CreateOp::Create2 => op::CREATE2,
            CreateOp::CreateContainer => op::CREATE_CONTAINER,
            CreateOp::CreateTtl => op::CREATE_TTL,
        }
    }
}

/// A create request in any of its four opcodes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CreateRequest {
    pub op: CreateOp,
    pub path: String,
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    /// Only for `CreateOp::CreateTtl` (the CreateTTLRequest's `long ttl`).
    pub ttl: Option<i64>,
}

/// The body of a setWatches (op 101) or setWatches2 (op 105): the watches a reconnecting
/// client re-arms, relative to the last zxid it saw. `persistent` and
/// `persistent_recursive` are empty for op 101 (`v2` false).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SetWatches {
    pub relative_zxid: Zxid,
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    pub persistent: Vec<String>,
    pub persistent_recursive: Vec<String>,
    pub v2: bool,
}

/// Every client request after the handshake, decoded.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Request {
    Create(CreateRequest),
    Delete {
        path: String,
        version: i32,
    },
    Exists {
        path: String,
        watch: bool,
    },
    GetData {
        path: String,
        watch: bool,
    },
    SetData {
        path: String,
        data: Option<Bytes>,
        version: i32,
    },
    GetAcl {
        path: String,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    GetChildren {
        path: String,
        watch: bool,
    },
    Sync {
        path: String,
    },
    Ping,
    GetChildren2 {
        path: String,
        watch: bool,
    },
    Check {
        path: String,
        version: i32,
    },
    /// op 14: sub-ops are Create, Delete, SetData or Check.
    Multi(Vec<Request>),
    Reconfig {
        joining: Option<String>,
        leaving: Option<String>,
        new_members: Option<String>,
        cur_config_id: i64,
    },
    CheckWatches {
        path: String,
        watcher_type: i32,
    },
    RemoveWatches {
        path: String,
        watcher_type: i32,
    },
    DeleteContainer {
        path: String,
    },
    /// op 22: sub-ops are GetChildren or GetData.
    MultiRead(Vec<Request>),
    Auth {
        auth_type: i32,
        scheme: String,
        auth: Bytes,
    },
    /// ops 101 and 105. Boxed: its five lists would otherwise make every request (and
    /// every client input) half as large again, and it is sent once per reconnect.
    SetWatches(Box<SetWatches>),
    Sasl {
        token: Bytes,
    },
    GetEphemerals {
        prefix: String,
    },
    GetAllChildrenNumber {
        path: String,
    },
    AddWatch {
        path: String,
        mode: i32,
    },
    WhoAmI,
    CloseSession,
}

impl Request {
    /// The opcode this request travels as.
    pub fn op_code(&self) -> i32 {
        match self {
            Request::Create(c) => c.op.code(),
            Request::Delete { .. } => op::DELETE,
            Request::Exists { .. } => op::EXISTS,
            Request::GetData { .. } => op::GET_DATA,
            Request::SetData { .. } => op::SET_DATA,
            Request::GetAcl { .. } => op::GET_ACL,
            Request::SetAcl { .. } => op::SET_ACL,
            Request::GetChildren { .. } => op::GET_CHILDREN,
            Request::Sync { .. } => op::SYNC,
            Request::Ping => op::PING,
            Request::GetChildren2 { .. } => op::GET_CHILDREN2,
            Request::Check { .. } => op::CHECK,
            Request::Multi(_) => op::MULTI,
            Request::Reconfig { .. } => op::RECONFIG,
            Request::CheckWatches { .. } => op::CHECK_WATCHES,
            Request::RemoveWatches { .. } => op::REMOVE_WATCHES,
            Request::DeleteContainer { .. } => op::DELETE_CONTAINER,
            Request::MultiRead(_) => op::MULTI_READ,
            Request::Auth { .. } => op::AUTH,
            Request::SetWatches(w) if !w.v2 => op::SET_WATCHES,
            Request::SetWatches(_) => op::SET_WATCHES2,
            Request::Sasl { .. } => op::SASL,
            Request::GetEphemerals { .. } => op::GET_EPHEMERALS,
            Request::GetAllChildrenNumber { .. } => op::GET_ALL_CHILDREN_NUMBER,
            Request::AddWatch { .. } => op::ADD_WATCH,
            Request::WhoAmI => op::WHO_AM_I,
            Request::CloseSession => op::CLOSE_SESSION,
        }
    }

    /// True for requests that change state and so become transactions.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create(_)
                | Request::Delete { .. }
                | Request::SetData { .. }
                | Request::SetAcl { .. }
                | Request::Check { .. }
                | Request::Multi(_)
                | Request::Reconfig { .. }
                | Request::DeleteContainer { .. }
                | Request::CloseSession
        )
    }

    /// The path the request names, where it names one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Request::Create(c) => Some(&c.path),
            Request::Delete { path, .. }
            | Request::Exists { path, .. }
            | Request::GetData { path, .. }
            | Request::SetData { path, .. }
            | Request::GetAcl { path }
            | Request::SetAcl { path, .. }
            | Request::GetChildren { path, .. }
            | Request::Sync { path }
            | Request::GetChildren2 { path, .. }
            | Request::Check { path, .. }
            | Request::CheckWatches { path, .. }
            | Request::RemoveWatches { path, .. }
            | Request::DeleteContainer { path }
            | Request::GetAllChildrenNumber { path }
            | Request::AddWatch { path, .. } => Some(path),
            Request::GetEphemerals { prefix } => Some(prefix),
            _ => None,
        }
    }
}

/// One sub-result of a multi or multiRead (`MultiResponse`). `Error` carries 0 for the
/// successful ops before the failing one in a failed multi, as ZooKeeper sends them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OpResult {
    Create {
        path: String,
    },
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetChildren {
        children: Vec<String>,
    },
    GetData {
        data: Option<Bytes>,
        stat: Stat,
    },
    /// `type = -1` with an ErrorResponse body; `err` is a wire code (0 allowed).
    Error {
        err: i32,
    },
}

/// One client-visible identity returned by whoAmI.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClientInfo {
    pub auth_scheme: String,
    pub user: String,
}

/// Every successful reply body. Which record goes on the wire is decided by the variant
/// alone, so the codec needs no knowledge of the request that caused it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Response {
    /// Header only: delete, ping, setWatches, checkWatches, removeWatches, auth,
    /// closeSession, deleteContainer.
    Empty,
    /// op 1.
    Create {
        path: String,
    },
    /// ops 15, 19, 21.
    Create2 {
        path: String,
        stat: Stat,
    },
    /// exists, setData, setACL.
    Stat(Stat),
    /// getData and reconfig.
    GetData {
        data: Option<Bytes>,
        stat: Stat,
    },
    GetAcl {
        acl: Vec<Acl>,
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    GetChildren2 {
        children: Vec<String>,
        stat: Stat,
    },
    Sync {
        path: String,
    },
    /// multi and multiRead.
    Multi(Vec<OpResult>),
    Sasl {
        token: Bytes,
    },
    GetEphemerals {
        paths: Vec<String>,
    },
    AllChildrenNumber(i32),
    /// addWatch answers a 4-byte ErrorResponse{0}.
    AddWatch,
    WhoAmI(Vec<ClientInfo>),
}

/// A reply as the node emits it: the body on success, the code on failure.
pub type ReplyResult = Result<Response, KeeperError>;
