//! Path validation and helpers (`PathUtils.validatePath`). CONTRACT STUB.

use crate::error::KeeperError;

/// Accepts a path ZooKeeper accepts; BADARGUMENTS otherwise.
pub fn validate(path: &str) -> Result<(), KeeperError> {
    let _ = path;
    todo!()
}

/// The parent of a valid non-root path (`/a/b` → `/a`, `/a` → `/`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}
