//! The snapshot file format (ours, not ZooKeeper's), framed around opaque tree bytes.
//!
//! ```text
//! file     = "KPSN" | version u32 BE (=1) | zxid u64 BE
//!            | session count i32 BE | (session id i64 BE, timeout ms i32 BE)*
//!            | tree bytes (DataTree::encode_snapshot)
//!            | crc32c(every byte before) u32 BE
//! ```
//! The checksum covers the whole image, so a snapshot either decodes exactly as written or
//! is refused (and recovery falls back to an older one). The framing is separate from the
//! tree codec so that it can be tested, and used by the shell, without a tree.
//!
//! Invariant: sessions are stored sorted by id without duplicates; the decoder checks it.

use crate::ids::{SessionId, Zxid};
use crate::persist::PersistError;
use crate::wire::jute::{DecodeError, Reader, Writer};

/// The first four bytes of every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"KPSN";
/// The snapshot format version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;
/// Bytes before the session list (magic, version, zxid).
const HEADER_LEN: usize = 16;
/// The trailing checksum.
const CRC_LEN: usize = 4;

/// A snapshot image whose framing and checksum are verified; the tree is still bytes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SnapshotImage<'a> {
    pub zxid: Zxid,
    /// Sorted by id.
    pub sessions: Vec<(SessionId, i32)>,
    /// What `DataTree::encode_snapshot` wrote.
    pub tree_bytes: &'a [u8],
    /// Where `tree_bytes` starts in the image, for error offsets.
    pub tree_offset: usize,
}

/// Frames already-encoded tree bytes into a snapshot image.
pub fn encode_snapshot_image(
    zxid: Zxid,
    sessions: &[(SessionId, i32)],
    tree_bytes: &[u8],
) -> Vec<u8> {
    let mut w = Writer::from_vec(snapshot_image_prefix(zxid, sessions));
    w.raw(tree_bytes);
    let crc = crc32c::crc32c(w.as_slice());
    w.raw(&crc.to_be_bytes());
    w.into_vec()
}

/// The bytes of a snapshot image before its tree bytes (magic, version, zxid, sessions),
/// for an image written in slices (`DataTree::begin_snapshot`).
pub fn snapshot_image_prefix(zxid: Zxid, sessions: &[(SessionId, i32)]) -> Vec<u8> {
    assert!(
        sessions.windows(2).all(|w| w[0].0 < w[1].0),
        "snapshot sessions must be sorted by id without duplicates"
    );
    let mut w = Writer::new();
    w.raw(&SNAPSHOT_MAGIC);
    w.raw(&SNAPSHOT_VERSION.to_be_bytes());
    w.i64(zxid.as_i64());
    w.i32(i32::try_from(sessions.len()).expect("fewer than 2^31 sessions"));
    for (id, timeout_ms) in sessions {
        w.i64(id.0);
        w.i32(*timeout_ms);
    }
    w.into_vec()
}

/// Seals an image whose prefix and tree bytes are written and whose crc32c is `crc`.
pub fn seal_snapshot_image(mut bytes: Vec<u8>, crc: u32) -> Vec<u8> {
    bytes.extend_from_slice(&crc.to_be_bytes());
    bytes
}

/// Verifies a snapshot image's checksum and framing and returns its parts.
pub fn decode_snapshot_image(bytes: &[u8]) -> Result<SnapshotImage<'_>, PersistError> {
    if bytes.len() < HEADER_LEN + 4 + CRC_LEN {
        return Err(PersistError::Truncated { offset: bytes.len() as u64 });
    }
    if bytes[0..4] != SNAPSHOT_MAGIC {
        return Err(PersistError::BadMagic {
            expected: SNAPSHOT_MAGIC,
            found: bytes[0..4].to_vec(),
        });
    }
    let body_len = bytes.len() - CRC_LEN;
    let stored = u32::from_be_bytes([
        bytes[body_len],
        bytes[body_len + 1],
        bytes[body_len + 2],
        bytes[body_len + 3],
    ]);
    if crc32c::crc32c(&bytes[..body_len]) != stored {
        return Err(PersistError::BadChecksum { offset: body_len as u64 });
    }
    let body = &bytes[..body_len];
    let version = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    if version != SNAPSHOT_VERSION {
        return Err(PersistError::UnsupportedVersion { version });
    }
    let mut r = Reader::new(&body[8..]);
    let at = |r: &Reader<'_>| (8 + r.position()) as u64;
    let bad = |r: &Reader<'_>, e: DecodeError| match e {
        DecodeError::Incomplete => PersistError::Truncated { offset: at(r) },
        DecodeError::Invalid(why) => PersistError::Invalid { offset: at(r), why },
    };
    let zxid = Zxid::from_i64(r.i64().map_err(|e| bad(&r, e))?);
    // Each session entry is 12 bytes.
    let n = r.count(12).map_err(|e| bad(&r, e))?;
    let mut sessions: Vec<(SessionId, i32)> = r.vec_for(n);
    for _ in 0..n {
        let id = SessionId(r.i64().map_err(|e| bad(&r, e))?);
        let timeout_ms = r.i32().map_err(|e| bad(&r, e))?;
        if let Some(&(prev, _)) = sessions.last() {
            if prev >= id {
                return Err(PersistError::Invalid {
                    offset: at(&r) - 12,
                    why: format!("session {id} is not above {prev}"),
                });
            }
        }
        sessions.push((id, timeout_ms));
    }
    let tree_offset = 8 + r.position();
    Ok(SnapshotImage { zxid, sessions, tree_bytes: &body[tree_offset..], tree_offset })
}
