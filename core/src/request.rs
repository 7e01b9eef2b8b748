//! Turning client requests into transactions (writes) or answers (reads). CONTRACT STUB.

use crate::acl::AuthContext;
use crate::config::Config;
use crate::ids::{SessionId, Zxid};
use crate::proto::{ReplyResult, Request};
use crate::tree::DataTree;
use crate::txn::Txn;

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
    let _ = (tree, ctx, req);
    todo!()
}

/// Answers a read request (exists, getData, getACL, getChildren[2], getAllChildrenNumber,
/// multiRead) from the tree.
pub fn read(tree: &DataTree, auth: &AuthContext, config: &Config, req: &Request) -> ReplyResult {
    let _ = (tree, auth, config, req);
    todo!()
}
