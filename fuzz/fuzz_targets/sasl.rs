//! The server side of SASL DIGEST-MD5: client tokens arrive in op 102 packets from anyone
//! who has a session, before they are authenticated. Two steps per input (the usual
//! exchange length), then the rest of the bytes as a third; also the JAAS file parser.
#![no_main]

use keeper_core::sasl::{parse_jaas_users, DigestMd5Server};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let users = vec![("bob".to_string(), "secret".to_string())];
    let mut server = DigestMd5Server::new(users, "0123456789abcdef".to_string());
    let cut = data.len() / 2;
    let _ = server.step(&data[..cut]);
    let _ = server.step(&data[cut..]);
    let _ = server.step(data);
    let _ = parse_jaas_users(&String::from_utf8_lossy(data));
});
