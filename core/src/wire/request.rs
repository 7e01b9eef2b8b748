//! Request bodies: the record after the RequestHeader, one per opcode (ZK-REFERENCE.md §1).
//!
//! Mirrors the request records of `zookeeper.jute` (CreateRequest, CreateTTLRequest,
//! DeleteRequest, …), the hand-written `DeleteContainerRequest`, and `AuthPacket` /
//! `SetWatches` / `SetWatches2`. Invariant: `read_body(req.op_code(), write_body(req))`
//! gives `req` back for every request [`write_body`] accepts, and `read_body` knows exactly
//! the opcodes ZooKeeper's server accepts from a client (`Request.isValid`, plus auth and
//! sasl, which are handled before that check), so anything else is an unknown op.

use crate::proto::{op, CreateOp, CreateRequest, Request, SetWatches};
use crate::wire::jute::{DecodeResult, Reader, Writer};
use crate::wire::multi::{self, MultiKind};
use crate::wire::records::{read_acls, write_acls};

/// Decodes the body of a request that arrived with opcode `code`; `None` when ZooKeeper
/// does not accept that opcode from a client (notification 0, createSession -10, error -1
/// and every undefined number).
///
/// Bytes after a complete record are not an error: ZooKeeper's server reads the record it
/// expects from the frame and ignores the rest, and clients rely on nothing else.
pub(crate) fn read_body(code: i32, r: &mut Reader) -> Option<DecodeResult<Request>> {
    let request = match code {
        op::CREATE => read_create(r, CreateOp::Create),
        op::DELETE => read_path_version(r).map(|(path, version)| Request::Delete { path, version }),
        op::EXISTS => read_path_watch(r).map(|(path, watch)| Request::Exists { path, watch }),
        op::GET_DATA => read_path_watch(r).map(|(path, watch)| Request::GetData { path, watch }),
        op::SET_DATA => read_set_data(r),
        op::GET_ACL => r.string().map(|path| Request::GetAcl { path }),
        op::SET_ACL => read_set_acl(r),
        op::GET_CHILDREN => {
            read_path_watch(r).map(|(path, watch)| Request::GetChildren { path, watch })
        }
        op::SYNC => r.string().map(|path| Request::Sync { path }),
        op::PING => Ok(Request::Ping),
        op::GET_CHILDREN2 => {
            read_path_watch(r).map(|(path, watch)| Request::GetChildren2 { path, watch })
        }
        op::CHECK => read_path_version(r).map(|(path, version)| Request::Check { path, version }),
        op::MULTI => multi::read_ops(r, MultiKind::Transaction).map(Request::Multi),
        op::CREATE2 => read_create(r, CreateOp::Create2),
        op::RECONFIG => read_reconfig(r),
        op::CHECK_WATCHES => read_path_type(r)
            .map(|(path, watcher_type)| Request::CheckWatches { path, watcher_type }),
        op::REMOVE_WATCHES => read_path_type(r)
            .map(|(path, watcher_type)| Request::RemoveWatches { path, watcher_type }),
        op::CREATE_CONTAINER => read_create(r, CreateOp::CreateContainer),
        // DeleteContainerRequest is `buffer path`, which Java turns into a String as UTF-8;
        // a ustring has the very same bytes, so the string reader serves.
        op::DELETE_CONTAINER => r.string().map(|path| Request::DeleteContainer { path }),
        op::CREATE_TTL => read_create(r, CreateOp::CreateTtl),
        op::MULTI_READ => multi::read_ops(r, MultiKind::Read).map(Request::MultiRead),
        op::AUTH => read_auth(r),
        op::SET_WATCHES => read_set_watches(r, false),
        op::SASL => r.buffer().map(|token| Request::Sasl { token }),
        op::GET_EPHEMERALS => r.string().map(|prefix| Request::GetEphemerals { prefix }),
        op::GET_ALL_CHILDREN_NUMBER => {
            r.string().map(|path| Request::GetAllChildrenNumber { path })
        }
        op::SET_WATCHES2 => read_set_watches(r, true),
        op::ADD_WATCH => read_path_type(r).map(|(path, mode)| Request::AddWatch { path, mode }),
        op::WHO_AM_I => Ok(Request::WhoAmI),
        op::CLOSE_SESSION => Ok(Request::CloseSession),
        _ => return None,
    };
    Some(request)
}

/// Encodes a request's body (the record after its header), as the Java client does.
///
/// Panics on a request no client could send: a create whose `ttl` is present without
/// opcode 21 or absent with it, a setWatches (op 101) carrying persistent watches, or a
/// multi holding a sub-op of the wrong kind. Each would otherwise be silently changed on
/// the wire.
pub(crate) fn write_body(w: &mut Writer, req: &Request) {
    match req {
        Request::Create(create) => write_create(w, create),
        Request::Delete { path, version } | Request::Check { path, version } => {
            w.string(path);
            w.i32(*version);
        }
        Request::Exists { path, watch }
        | Request::GetData { path, watch }
        | Request::GetChildren { path, watch }
        | Request::GetChildren2 { path, watch } => {
            w.string(path);
            w.bool(*watch);
        }
        Request::SetData { path, data, version } => {
            w.string(path);
            w.data(data.as_ref());
            w.i32(*version);
        }
        Request::GetAcl { path }
        | Request::Sync { path }
        | Request::DeleteContainer { path }
        | Request::GetAllChildrenNumber { path }
        | Request::GetEphemerals { prefix: path } => w.string(path),
        Request::SetAcl { path, acl, version } => {
            w.string(path);
            write_acls(w, acl);
            w.i32(*version);
        }
        Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        Request::Multi(ops) => multi::write_ops(w, MultiKind::Transaction, ops),
        Request::MultiRead(ops) => multi::write_ops(w, MultiKind::Read, ops),
        Request::Reconfig { joining, leaving, new_members, cur_config_id } => {
            w.string_opt(joining.as_deref());
            w.string_opt(leaving.as_deref());
            w.string_opt(new_members.as_deref());
            w.i64(*cur_config_id);
        }
        Request::CheckWatches { path, watcher_type: code }
        | Request::RemoveWatches { path, watcher_type: code }
        | Request::AddWatch { path, mode: code } => {
            w.string(path);
            w.i32(*code);
        }
        Request::Auth { auth_type, scheme, auth } => {
            w.i32(*auth_type);
            w.string(scheme);
            w.buffer(auth);
        }
        Request::SetWatches(sw) => {
            let SetWatches {
                relative_zxid,
                data,
                exist,
                child,
                persistent,
                persistent_recursive,
                v2,
            } = &**sw;
            assert!(
                *v2 || (persistent.is_empty() && persistent_recursive.is_empty()),
                "setWatches (op 101) cannot carry persistent watches; use setWatches2"
            );
            w.i64(relative_zxid.as_i64());
            w.strings(data);
            w.strings(exist);
            w.strings(child);
            if *v2 {
                w.strings(persistent);
                w.strings(persistent_recursive);
            }
        }
        Request::Sasl { token } => w.buffer(token),
    }
}

/// CreateRequest{path, data, acl, flags}, plus `long ttl` for CreateTTLRequest (op 21).
fn read_create(r: &mut Reader, create_op: CreateOp) -> DecodeResult<Request> {
    let path = r.string()?;
    let data = r.data()?;
    let acl = read_acls(r)?;
    let flags = r.i32()?;
    let ttl = if create_op == CreateOp::CreateTtl { Some(r.i64()?) } else { None };
    Ok(Request::Create(CreateRequest { op: create_op, path, data, acl, flags, ttl }))
}

fn write_create(w: &mut Writer, create: &CreateRequest) {
    let is_ttl_op = create.op == CreateOp::CreateTtl;
    assert_eq!(create.ttl.is_some(), is_ttl_op, "a ttl travels only with createTTL (op 21)");
    w.string(&create.path);
    w.data(create.data.as_ref());
    write_acls(w, &create.acl);
    w.i32(create.flags);
    if let Some(ttl) = create.ttl {
        w.i64(ttl);
    }
}

/// DeleteRequest / CheckVersionRequest: {ustring path, int version}.
fn read_path_version(r: &mut Reader) -> DecodeResult<(String, i32)> {
    Ok((r.string()?, r.i32()?))
}

/// ExistsRequest / GetDataRequest / GetChildren(2)Request: {ustring path, boolean watch}.
#[inline]
fn read_path_watch(r: &mut Reader) -> DecodeResult<(String, bool)> {
    Ok((r.string()?, r.bool()?))
}

/// CheckWatchesRequest / RemoveWatchesRequest / AddWatchRequest: {ustring path, int type}.
fn read_path_type(r: &mut Reader) -> DecodeResult<(String, i32)> {
    Ok((r.string()?, r.i32()?))
}

fn read_set_data(r: &mut Reader) -> DecodeResult<Request> {
    Ok(Request::SetData { path: r.string()?, data: r.data()?, version: r.i32()? })
}

fn read_set_acl(r: &mut Reader) -> DecodeResult<Request> {
    Ok(Request::SetAcl { path: r.string()?, acl: read_acls(r)?, version: r.i32()? })
}

/// ReconfigRequest: three nullable strings (null means "not given", which differs from an
/// empty list for incremental reconfig) and the expected config version.
fn read_reconfig(r: &mut Reader) -> DecodeResult<Request> {
    Ok(Request::Reconfig {
        joining: r.string_opt()?,
        leaving: r.string_opt()?,
        new_members: r.string_opt()?,
        cur_config_id: r.i64()?,
    })
}

/// AuthPacket{int type, ustring scheme, buffer auth}.
fn read_auth(r: &mut Reader) -> DecodeResult<Request> {
    Ok(Request::Auth { auth_type: r.i32()?, scheme: r.string()?, auth: r.buffer()? })
}

/// SetWatches{long relativeZxid, data, exist, child} and SetWatches2, which adds the
/// persistent and persistent-recursive path lists.
fn read_set_watches(r: &mut Reader, v2: bool) -> DecodeResult<Request> {
    let relative_zxid = crate::ids::Zxid::from_i64(r.i64()?);
    let data = r.strings()?;
    let exist = r.strings()?;
    let child = r.strings()?;
    let (persistent, persistent_recursive) =
        if v2 { (r.strings()?, r.strings()?) } else { (Vec::new(), Vec::new()) };
    Ok(Request::SetWatches(Box::new(SetWatches {
        relative_zxid,
        data,
        exist,
        child,
        persistent,
        persistent_recursive,
        v2,
    })))
}
