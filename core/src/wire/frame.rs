//! Length-prefixed frames: the unit both directions of a ZooKeeper connection exchange.
//!
//! Every message is a 4-byte big-endian length (bytes that follow, prefix excluded) and then
//! that many bytes (ZK-REFERENCE.md §2; Java's `NIOServerCnxn.readLength` and
//! `ClientCnxnSocket.readLength`). Invariant: [`frame_len`] never reports a frame longer than
//! the caller's bound, and [`write_framed`] always patches a prefix equal to the body's
//! length, so a frame written here is accepted by a reader with a large enough bound.

use crate::wire::jute::Writer;

/// Bytes of the length prefix in front of every frame.
pub const PREFIX_BYTES: usize = 4;

/// Length of the complete frame at the start of `buf` (prefix included), `Ok(None)` when
/// more bytes are needed, `Err(len)` when the declared length is negative or over `max`.
///
/// ZooKeeper's server closes the connection on such a length ("Len error"); the caller
/// does the same. The length is judged as soon as the prefix is present, so a peer cannot
/// make the caller buffer an oversized frame before it is refused.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, i64> {
    let Some(prefix) = buf.first_chunk::<PREFIX_BYTES>() else {
        return Ok(None);
    };
    let declared = i32::from_be_bytes(*prefix);
    if declared < 0 {
        return Err(i64::from(declared));
    }
    // A non-negative i32 always fits in usize on the platforms keeper supports.
    let body = declared as usize;
    if body > max {
        return Err(i64::from(declared));
    }
    let total = PREFIX_BYTES + body;
    if buf.len() < total {
        return Ok(None);
    }
    assert!(total >= PREFIX_BYTES);
    Ok(Some(total))
}

/// Appends one frame to `out`: a length prefix, then whatever `body` writes, then the
/// prefix is patched with the body's length. `out` may already hold earlier frames.
pub fn write_framed(out: &mut Vec<u8>, body: impl FnOnce(&mut Writer)) {
    let mut w = Writer::from_vec(std::mem::take(out));
    let start = w.len();
    w.i32(0);
    body(&mut w);
    let body_len = w.len() - start - PREFIX_BYTES;
    // Jute lengths are ints: a body past i32::MAX cannot be framed at all, and nothing the
    // node builds comes near it (replies are bounded by the tree's own limits).
    let declared = i32::try_from(body_len).expect("a frame body fits in an i32 length");
    w.patch_i32(start, declared);
    *out = w.into_vec();
    assert_eq!(out.len(), start + PREFIX_BYTES + body_len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_frames_are_read_back_whole() {
        let mut out = vec![0xAA];
        write_framed(&mut out, |w| w.i32(7));
        assert_eq!(out, [0xAA, 0, 0, 0, 4, 0, 0, 0, 7]);
        assert_eq!(frame_len(&out[1..], 4), Ok(Some(8)));
        assert_eq!(frame_len(&out[1..], 3), Err(4));
        assert_eq!(frame_len(&out[1..8], 4), Ok(None));
    }
}
