//! Path validation and helpers, mirroring ZooKeeper's `PathUtils.validatePath`.
//!
//! Invariant: a path that `validate` accepts starts with `/`, has no empty, `.` or `..`
//! component, no trailing `/` (except the root), no NUL or forbidden character, and is at
//! most `limits::MAX_PATH_BYTES` long. Every path stored in the tree passed this check.

use crate::error::KeeperError;
use crate::limits::MAX_PATH_BYTES;

/// Accepts a path ZooKeeper accepts; BADARGUMENTS otherwise.
///
/// No allocation, and for the usual path a few word-wide checks: every read and write
/// validates its path, so this is on the hot path. Otherwise one walk over the bytes cuts
/// components at each `/` and refuses ASCII control bytes on the way; only a path holding
/// non-ASCII bytes is walked again as chars for the forbidden ranges above U+007F.
pub fn validate(path: &str) -> Result<(), KeeperError> {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') || b.len() > MAX_PATH_BYTES {
        return Err(KeeperError::BadArguments);
    }
    if b.len() == 1 {
        return Ok(());
    }
    // The common case, decided a word at a time: printable ASCII only, no `/` followed by
    // `/` or `.`, no trailing `/`. Anything else (including a harmless `/.hidden`) takes
    // the exact walk below.
    if usual(b) && b[b.len() - 1] != b'/' {
        return Ok(());
    }
    let mut start = 1;
    let mut non_ascii = false;
    for (i, &c) in b.iter().enumerate().skip(1) {
        if c == b'/' {
            component(&b[start..i])?;
            start = i + 1;
        } else if c < 0x20 || c == 0x7F {
            return Err(KeeperError::BadArguments);
        } else if c >= 0x80 {
            non_ascii = true;
        }
    }
    // A trailing `/` leaves an empty last component.
    component(&b[start..])?;
    if non_ascii && path.chars().any(forbidden) {
        return Err(KeeperError::BadArguments);
    }
    Ok(())
}

/// True when `b` (not empty) holds only bytes 0x20..=0x7E and no `/` directly followed by
/// `/` or `.`. Reads overlapping 8-byte words at a stride of 7, so every adjacent pair of
/// bytes lies inside one word; a path shorter than a word is padded with `a`.
fn usual(b: &[u8]) -> bool {
    if b.len() < 8 {
        let mut pad = [b'a'; 8];
        pad[..b.len()].copy_from_slice(b);
        return unusual_bytes(u64::from_le_bytes(pad)) == 0;
    }
    let mut bad = 0;
    let mut i = 0;
    loop {
        let word: [u8; 8] = b[i..i + 8].try_into().expect("8 bytes");
        bad |= unusual_bytes(u64::from_le_bytes(word));
        if i + 8 >= b.len() {
            return bad == 0;
        }
        i = (i + 7).min(b.len() - 8);
    }
}

/// Non-zero when the 8 bytes of `v` (first byte lowest) hold a byte outside 0x20..=0x7E,
/// or a `/` followed within the word by `/` or `.`.
fn unusual_bytes(v: u64) -> u64 {
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let splat = |c: u8| u64::from_ne_bytes([c; 8]);
    // The high bit of each zero byte of `x`, exactly (no borrow crosses bytes).
    let zero = |x: u64| !(((x & !HIGH) + !HIGH) | x | !HIGH);
    let slash = zero(v ^ splat(b'/'));
    let dot = zero(v ^ splat(b'.'));
    // Below 0x20 is bits 5 and 6 clear (for ASCII; non-ASCII is caught by HIGH anyway).
    (v & HIGH) | zero(v ^ splat(0x7F)) | zero(v & splat(0x60)) | ((slash << 8) & (slash | dot))
}

/// One component between slashes: not empty, `.` or `..`.
fn component(c: &[u8]) -> Result<(), KeeperError> {
    if c.is_empty() || c == b"." || c == b".." {
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

    /// The former validator (split on `/`, then every char), kept as the reference the
    /// single-pass one must agree with.
    fn reference(path: &str) -> Result<(), KeeperError> {
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

    proptest::proptest! {
        #[test]
        fn single_pass_agrees_with_reference(
            parts in proptest::collection::vec("[a./\\x00-\\x20\\x7e-\\u{a0}\\u{d7ff}\\u{e000}\\u{fff0}é]{0,4}", 0..5),
            lead in proptest::bool::ANY,
        ) {
            let mut p = if lead { String::from("/") } else { String::new() };
            p.push_str(&parts.join("/"));
            proptest::prop_assert_eq!(validate(&p), reference(&p), "{:?}", p);
        }
    }

    #[test]
    fn every_position_of_a_bad_byte_or_pair_is_found() {
        for len in 2..40 {
            let base: String = std::iter::once('/').chain((1..len).map(|_| 'x')).collect();
            assert_eq!(validate(&base), Ok(()), "{base}");
            for at in 1..len {
                for bad in ["\0", "\u{1f}", "\u{7f}", "\u{85}", "\u{e000}", "//", "/.", "/..", "/"]
                {
                    let mut p = base.clone();
                    p.replace_range(at..at + 1, bad);
                    assert_eq!(validate(&p), reference(&p), "{p:?}");
                }
            }
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
