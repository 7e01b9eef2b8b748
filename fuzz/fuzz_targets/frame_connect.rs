//! The first bytes a server reads from a new connection: frame cutting, the four-letter
//! word check, and the ConnectRequest (and, client side, the ConnectResponse).
//!
//! Checks beyond "no panic": a frame is never reported longer than the bound nor than the
//! input, and a decoded ConnectRequest survives an encode/decode round trip.
#![no_main]

use keeper_core::wire::codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the bound so that small and default limits are both explored.
    let Some((&pick, bytes)) = data.split_first() else { return };
    let max = match pick % 4 {
        0 => 0,
        1 => 16,
        2 => 1024,
        _ => keeper_core::limits::DEFAULT_MAX_BUFFER_BYTES,
    };
    let mut start = 0;
    while let Ok(Some(len)) = codec::frame_len(&bytes[start..], max) {
        assert!(len >= 4 && len - 4 <= max, "frame of {len} bytes passed a bound of {max}");
        assert!(start + len <= bytes.len(), "a complete frame lies within the input");
        let body = &bytes[start + 4..start + len];
        if let Ok(req) = codec::decode_connect_request(body) {
            let mut out = Vec::new();
            codec::encode_connect_request(&req, &mut out);
            assert_eq!(codec::decode_connect_request(&out[4..]), Ok(req));
        }
        let _ = codec::decode_connect_response(body);
        start += len;
    }
    let _ = bytes.get(..4).map(codec::four_letter_word);
});
