//! Turning client requests into transactions (writes) or answers (reads), as ZooKeeper's
//! `PrepRequestProcessor` and `FinalRequestProcessor` do.
//!
//! Invariant: `prepare` never changes the tree; it validates against the tree as modified by
//! the earlier sub-ops of the same multi (an overlay of pending changes), in ZooKeeper's
//! validation order (ZK-REFERENCE.md §1), so the first failing check decides the error.
//! The session check (expired/moved) is done by the node before calling in here.

use std::collections::BTreeMap;

use crate::acl::{self, AuthContext};
use crate::config::Config;
use crate::error::KeeperError;
use crate::ids::{SessionId, Zxid};
use crate::limits::MAX_MULTI_OPS;
use crate::path;
use crate::proto::{perms, Acl, CreateOp, CreateRequest, OpResult, ReplyResult, Request, Response};
use crate::tree::{kind_of, DataTree, NodeKind};
use crate::txn::{Txn, CONTAINER_OWNER, TTL_MAX_MS, TTL_OWNER_MASK};

/// Who is asking, and the facts a write is stamped with.
pub struct PrepContext<'a> {
    pub session: SessionId,
    pub auth: &'a AuthContext,
    pub config: &'a Config,
    pub zxid: Zxid,
    pub time_ms: i64,
}

/// Validates a write request against the tree and returns its transaction
/// (`Txn::Error` when validation fails, which still consumes a zxid).
pub fn prepare(tree: &DataTree, ctx: &PrepContext<'_>, req: &Request) -> Txn {
    let mut ov = Overlay { tree, pending: BTreeMap::new() };
    match req {
        Request::Multi(ops) => prepare_multi(&mut ov, ctx, ops),
        Request::CloseSession => Txn::CloseSession,
        // A lone check is refused (ZOOKEEPER-2623); the node also closes the connection.
        Request::Check { .. } => Txn::Error { err: KeeperError::Unimplemented.code() },
        Request::Create(_)
        | Request::Delete { .. }
        | Request::SetData { .. }
        | Request::SetAcl { .. }
        | Request::DeleteContainer { .. } => match prepare_op(&mut ov, ctx, req) {
            Ok(txn) => txn,
            Err(e) => Txn::Error { err: e.code() },
        },
        _ => Txn::Error { err: KeeperError::Unimplemented.code() },
    }
}

/// Answers a read request (exists, getData, getACL, getChildren[2], getAllChildrenNumber,
/// multiRead) from the tree.
pub fn read(tree: &DataTree, auth: &AuthContext, config: &Config, req: &Request) -> ReplyResult {
    let readable = |p: &str| -> Result<crate::tree::NodeView<'_>, KeeperError> {
        path::validate(p)?;
        let n = tree.get(p).ok_or(KeeperError::NoNode)?;
        if !acl::check(n.acl, auth, perms::READ, config.skip_acl) {
            return Err(KeeperError::NoAuth);
        }
        Ok(n)
    };
    match req {
        Request::Exists { path, .. } => Ok(Response::Stat(readable(path)?.stat)),
        Request::GetData { path, .. } => {
            let n = readable(path)?;
            Ok(Response::GetData { data: n.data.cloned(), stat: n.stat })
        }
        Request::GetAcl { path } => {
            path::validate(path)?;
            let n = tree.get(path).ok_or(KeeperError::NoNode)?;
            let admin = acl::check(n.acl, auth, perms::ADMIN, config.skip_acl);
            if !admin && !acl::check(n.acl, auth, perms::READ, config.skip_acl) {
                return Err(KeeperError::NoAuth);
            }
            let acl = if admin { n.acl.to_vec() } else { acl::mask_digests(n.acl) };
            Ok(Response::GetAcl { acl, stat: n.stat })
        }
        Request::GetChildren { path, .. } => {
            readable(path)?;
            Ok(Response::GetChildren { children: tree.children(path).unwrap_or_default() })
        }
        Request::GetChildren2 { path, .. } => {
            let stat = readable(path)?.stat;
            Ok(Response::GetChildren2 { children: tree.children(path).unwrap_or_default(), stat })
        }
        Request::GetAllChildrenNumber { path } => {
            readable(path)?;
            Ok(Response::AllChildrenNumber(tree.all_children_number(path).unwrap_or(0)))
        }
        Request::MultiRead(ops) => {
            let results = ops
                .iter()
                .map(|op| match op {
                    Request::GetChildren { .. } | Request::GetData { .. } => {
                        match read(tree, auth, config, op) {
                            Ok(Response::GetChildren { children }) => {
                                OpResult::GetChildren { children }
                            }
                            Ok(Response::GetData { data, stat }) => {
                                OpResult::GetData { data, stat }
                            }
                            Ok(_) => OpResult::Error { err: KeeperError::SystemError.code() },
                            Err(e) => OpResult::Error { err: e.code() },
                        }
                    }
                    _ => OpResult::Error { err: KeeperError::BadArguments.code() },
                })
                .collect();
            Ok(Response::Multi(results))
        }
        _ => Err(KeeperError::Unimplemented),
    }
}

// ---- private ----

/// What validation needs to know about one node, as pending changes leave it.
#[derive(Clone, Debug)]
struct Info {
    acl: Vec<Acl>,
    version: i32,
    aversion: i32,
    /// Stored (creation-counting) cversion.
    cversion: i32,
    owner: i64,
    num_children: i64,
}

/// The tree plus the changes of earlier sub-ops of the multi being prepared.
/// `None` in `pending` marks a node deleted by an earlier sub-op.
struct Overlay<'a> {
    tree: &'a DataTree,
    pending: BTreeMap<String, Option<Info>>,
}

impl Overlay<'_> {
    fn get(&self, p: &str) -> Option<Info> {
        if let Some(v) = self.pending.get(p) {
            return v.clone();
        }
        let view = self.tree.get(p)?;
        let stored = self.tree.stored_stat(p)?;
        Some(Info {
            acl: view.acl.to_vec(),
            version: stored.version,
            aversion: stored.aversion,
            cversion: stored.cversion,
            owner: stored.ephemeral_owner,
            num_children: view.stat.num_children as i64,
        })
    }
    fn set(&mut self, p: &str, info: Option<Info>) {
        self.pending.insert(p.to_string(), info);
    }
}

fn prepare_multi(ov: &mut Overlay<'_>, ctx: &PrepContext<'_>, ops: &[Request]) -> Txn {
    if ops.len() > MAX_MULTI_OPS {
        return Txn::Error { err: KeeperError::BadArguments.code() };
    }
    let mut txns = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let r = match op {
            Request::Create(_)
            | Request::Delete { .. }
            | Request::SetData { .. }
            | Request::Check { .. } => prepare_op(ov, ctx, op),
            _ => Err(KeeperError::BadArguments),
        };
        match r {
            Ok(t) => txns.push(t),
            Err(e) => {
                let mut errs: Vec<Txn> = (0..i).map(|_| Txn::Error { err: 0 }).collect();
                errs.push(Txn::Error { err: e.code() });
                let after = KeeperError::RuntimeInconsistency.code();
                errs.extend((i + 1..ops.len()).map(|_| Txn::Error { err: after }));
                assert_eq!(errs.len(), ops.len());
                return Txn::Multi(errs);
            }
        }
    }
    Txn::Multi(txns)
}

fn allowed(ctx: &PrepContext<'_>, acl: &[Acl], perm: i32) -> Result<(), KeeperError> {
    if acl::check(acl, ctx.auth, perm, ctx.config.skip_acl) {
        Ok(())
    } else {
        Err(KeeperError::NoAuth)
    }
}

fn check_version(expected: i32, actual: i32) -> Result<(), KeeperError> {
    if expected != -1 && expected != actual {
        return Err(KeeperError::BadVersion);
    }
    Ok(())
}

const SPECIAL_PATHS: [&str; 4] = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];

/// Validates one write against the overlay and, on success, records its effect there.
fn prepare_op(
    ov: &mut Overlay<'_>,
    ctx: &PrepContext<'_>,
    req: &Request,
) -> Result<Txn, KeeperError> {
    match req {
        Request::Create(c) => prepare_create(ov, ctx, c),
        Request::Delete { path, version } => {
            path::validate(path)?;
            if SPECIAL_PATHS.contains(&path.as_str()) {
                return Err(KeeperError::BadArguments);
            }
            let parent_path = path::parent(path);
            let mut parent = ov.get(parent_path).ok_or(KeeperError::NoNode)?;
            allowed(ctx, &parent.acl, perms::DELETE)?;
            let node = ov.get(path).ok_or(KeeperError::NoNode)?;
            check_version(*version, node.version)?;
            if node.num_children > 0 {
                return Err(KeeperError::NotEmpty);
            }
            parent.num_children -= 1;
            ov.set(parent_path, Some(parent));
            ov.set(path, None);
            Ok(Txn::Delete { path: path.clone() })
        }
        Request::SetData { path, data, version } => {
            path::validate(path)?;
            if data.as_ref().is_some_and(|d| d.len() > ctx.config.max_buffer_bytes) {
                return Err(KeeperError::BadArguments);
            }
            let mut node = ov.get(path).ok_or(KeeperError::NoNode)?;
            allowed(ctx, &node.acl, perms::WRITE)?;
            check_version(*version, node.version)?;
            node.version = node.version.wrapping_add(1);
            let new_version = node.version;
            ov.set(path, Some(node));
            Ok(Txn::SetData { path: path.clone(), data: data.clone(), version: new_version })
        }
        Request::SetAcl { path, acl: list, version } => {
            path::validate(path)?;
            let list = acl::fixup(list, ctx.auth)?;
            let mut node = ov.get(path).ok_or(KeeperError::NoNode)?;
            allowed(ctx, &node.acl, perms::ADMIN)?;
            check_version(*version, node.aversion)?;
            node.aversion = node.aversion.wrapping_add(1);
            node.acl = list.clone();
            let new_version = node.aversion;
            ov.set(path, Some(node));
            Ok(Txn::SetAcl { path: path.clone(), acl: list, version: new_version })
        }
        Request::Check { path, version } => {
            path::validate(path)?;
            let node = ov.get(path).ok_or(KeeperError::NoNode)?;
            allowed(ctx, &node.acl, perms::READ)?;
            check_version(*version, node.version)?;
            Ok(Txn::Check { path: path.clone(), version: *version })
        }
        Request::DeleteContainer { path } => {
            path::validate(path)?;
            if SPECIAL_PATHS.contains(&path.as_str()) {
                return Err(KeeperError::BadArguments);
            }
            let node = ov.get(path).ok_or(KeeperError::NoNode)?;
            if node.num_children > 0 {
                return Err(KeeperError::NotEmpty);
            }
            match kind_of(node.owner) {
                NodeKind::Container | NodeKind::Ttl(_) => {}
                NodeKind::Ephemeral(_) | NodeKind::Persistent => {
                    return Err(KeeperError::BadArguments)
                }
            }
            let parent_path = path::parent(path);
            if let Some(mut parent) = ov.get(parent_path) {
                parent.num_children -= 1;
                ov.set(parent_path, Some(parent));
            }
            ov.set(path, None);
            Ok(Txn::Delete { path: path.clone() })
        }
        _ => Err(KeeperError::BadArguments),
    }
}

/// Validates the flags (and ttl) of a create for its opcode: (sequential, stored owner).
fn create_mode(c: &CreateRequest, ctx: &PrepContext<'_>) -> Result<(bool, i64), KeeperError> {
    let session = ctx.session.0;
    match c.op {
        CreateOp::Create | CreateOp::Create2 => match c.flags {
            0 | 4 => Ok((false, 0)),
            1 => Ok((false, session)),
            2 => Ok((true, 0)),
            3 => Ok((true, session)),
            _ => Err(KeeperError::BadArguments),
        },
        CreateOp::CreateContainer => match c.flags {
            4 => Ok((false, CONTAINER_OWNER)),
            _ => Err(KeeperError::BadArguments),
        },
        CreateOp::CreateTtl => {
            let seq = match c.flags {
                5 => false,
                6 => true,
                _ => return Err(KeeperError::BadArguments),
            };
            if !ctx.config.extended_types_enabled {
                return Err(KeeperError::Unimplemented);
            }
            match c.ttl {
                Some(ttl) if (1..=TTL_MAX_MS).contains(&ttl) => Ok((seq, TTL_OWNER_MASK | ttl)),
                _ => Err(KeeperError::BadArguments),
            }
        }
    }
}

fn prepare_create(
    ov: &mut Overlay<'_>,
    ctx: &PrepContext<'_>,
    c: &CreateRequest,
) -> Result<Txn, KeeperError> {
    let (sequential, owner) = create_mode(c, ctx)?;
    if !c.path.starts_with('/') || c.path.contains('\0') {
        return Err(KeeperError::BadArguments);
    }
    let acl = acl::fixup(&c.acl, ctx.auth)?;
    let parent_path = path::parent(&c.path).to_string();
    let mut parent = ov.get(&parent_path).ok_or(KeeperError::NoNode)?;
    allowed(ctx, &parent.acl, perms::CREATE)?;
    let final_path =
        if sequential { format!("{}{:010}", c.path, parent.cversion) } else { c.path.clone() };
    path::validate(&final_path)?;
    if ov.get(&final_path).is_some() {
        return Err(KeeperError::NodeExists);
    }
    if matches!(kind_of(parent.owner), NodeKind::Ephemeral(_)) {
        return Err(KeeperError::NoChildrenForEphemerals);
    }
    let parent_cversion = parent.cversion.wrapping_add(1);
    parent.cversion = parent_cversion;
    parent.num_children += 1;
    ov.set(&parent_path, Some(parent));
    let info =
        Info { acl: acl.clone(), version: 0, aversion: 0, cversion: 0, owner, num_children: 0 };
    ov.set(&final_path, Some(info));
    Ok(Txn::Create {
        path: final_path,
        data: c.data.clone(),
        acl,
        ephemeral_owner: owner,
        parent_cversion,
    })
}
