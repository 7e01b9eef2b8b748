//! Apache ZooKeeper's own snapshot and log files and single txn entries, as the future
//! `keeper import-zk` will read them from a dataDir it did not write.
#![no_main]

use keeper_core::zkfiles::{parse_log, parse_snapshot, parse_txn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_snapshot(data);
    let _ = parse_log(data);
    let _ = parse_txn(data);
});
