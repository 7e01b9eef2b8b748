//! ACL evaluation and authentication identities. CONTRACT STUB.

use crate::error::KeeperError;
use crate::proto::{Acl, Id};

/// The identities a connection has proven, and whether it is the super user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthContext {
    pub ids: Vec<Id>,
    pub is_super: bool,
}

/// `user:base64(sha1("user:password"))` for an auth string `user:password`.
pub fn digest(user_password: &str) -> String {
    let _ = user_password;
    todo!()
}

/// True when `auth` holds `perm` on a node with `acl` (super and skipACL bypass).
pub fn check(acl: &[Acl], auth: &AuthContext, perm: i32, skip_acl: bool) -> bool {
    let _ = (acl, auth, perm, skip_acl);
    todo!()
}

/// Validates an ACL list for create/setACL and expands `auth` entries (`fixupACL`).
pub fn fixup(acl: &[Acl], auth: &AuthContext) -> Result<Vec<Acl>, KeeperError> {
    let _ = (acl, auth);
    todo!()
}
