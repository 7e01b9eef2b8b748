//! keeper's own snapshot files: the framing (`decode_snapshot_image`) and the tree inside
//! (`decode_snapshot`).
//!
//! The whole-file CRC32C would stop nearly every raw input at the door, so half of the
//! inputs are sealed first: "KPSN", version 1, the input, and the checksum of all that. A
//! snapshot that decodes must re-encode to bytes that decode to the same encoding (the
//! decoder normalises nothing twice).
#![no_main]

use keeper_core::persist::{decode_snapshot, encode_snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let image = if pick & 1 == 0 {
        rest.to_vec()
    } else {
        let mut b = b"KPSN".to_vec();
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(rest);
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        b
    };
    let Ok(state) = decode_snapshot(&image) else { return };
    let once = encode_snapshot(state.zxid, &state.sessions, &state.tree);
    let again = decode_snapshot(&once).expect("a re-encoded snapshot decodes");
    let twice = encode_snapshot(again.zxid, &again.sessions, &again.tree);
    assert_eq!(once, twice, "snapshot encoding is stable");
});
