//! What keeper's own clients (the shell, bench, the async client) read from a server: reply
//! headers, every response record by opcode, and watch notifications. A hostile or broken
//! server must not crash them.
#![no_main]

use keeper_core::wire::codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let _ = codec::decode_notification(rest);
    if let Ok((_header, body)) = codec::decode_reply_header(rest) {
        // Any opcode a request could have carried, including unknown ones.
        let code = i32::from(pick as i8);
        let _ = codec::decode_response(code, body);
        let _ = codec::decode_response(i32::from(pick & 0x7f) % 23, body);
    }
});
