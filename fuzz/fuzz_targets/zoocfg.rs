//! zoo.cfg (Java properties syntax, every key keeper reads) and the myid file.
#![no_main]

use keeper_core::zoocfg::{parse_myid, ZooCfg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = ZooCfg::parse(&text);
    let _ = parse_myid(&text);
});
