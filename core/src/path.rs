//! Path validation and helpers, mirroring ZooKeeper's `PathUtils.validatePath`.
//!
//! Invariant: a path that `validate` accepts starts with `/`, has no empty, `.` or `..`
//! component, no trailing `/` (except the root), no NUL or forbidden character, and is at
//! most `limits::MAX_PATH_BYTES` long. Every path stored in the tree passed this check.

use crate::error::KeeperError;
use crate::limits::MAX_PATH_BYTES;

/// Accepts a path ZooKeeper accepts; BADARGUMENTS otherwise.
pub fn validate(path: &str) -> Result<(), KeeperError> {
    if path.is_empty() || !path.starts_with('/') || path.len() > MAX_PATH_BYTES {
        return Err(KeeperError::BadArguments);
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(KeeperError::BadArguments);
    }
    for component in path[1..].split('/') {
        if component.is_empty() || component == "." || component == ".." {
            return Err(KeeperError::BadArguments);
        }
    }
    if path.chars().any(forbidden) {
        return Err(KeeperError::BadArguments);
    }
    Ok(())
}

/// The parent of a valid non-root path (`/a/b` → `/a`, `/a` → `/`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last component of a valid non-root path (`/a/b` → `b`).
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// `parent + "/" + child`, without doubling the root's slash.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// Characters `PathUtils` rejects: NUL, C0/C1 controls, DEL, and the UTF-16 ranges
/// U+D800-F8FF and U+FFF0-FFFF (surrogates cannot occur in a Rust `str`).
fn forbidden(c: char) -> bool {
    let u = c as u32;
    u == 0
        || (0x01..=0x1F).contains(&u)
        || (0x7F..=0x9F).contains(&u)
        || (0xD800..=0xF8FF).contains(&u)
        || (0xFFF0..=0xFFFF).contains(&u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_zookeeper_paths() {
        for p in ["/", "/a", "/a/b", "/zookeeper/config", "/a.b", "/...", "/é"] {
            assert_eq!(validate(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn rejects_bad_paths() {
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
        for p in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/a/..",
            "/a\0",
            "/a\u{1}",
            "/\u{7f}",
            "/\u{e000}",
            "/\u{fff0}",
            &long,
        ] {
            assert_eq!(validate(p), Err(KeeperError::BadArguments), "{p:?}");
        }
    }

    #[test]
    fn parent_name_join() {
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(name("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
