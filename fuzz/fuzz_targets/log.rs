//! keeper's own transaction log: [`scan_log`] over a whole file image and
//! [`decode_txn_record`] over one payload.
//!
//! Raw inputs rarely pass a CRC32C, so half of the inputs are built into a well-formed file
//! instead: a valid header, then the input cut into payloads (2-byte length each) framed
//! with correct checksums, then a few trailing bytes. That reaches the txn decoder through
//! the scanner. Checks: the scan's own invariants (records within `valid_len`, offsets
//! ascending), rescanning the trusted prefix gives the same records and a clean end, and
//! every decoded record survives an encode/decode round trip.
#![no_main]

use keeper_core::persist::log::{append_log_record, End};
use keeper_core::persist::{decode_txn_record, encode_log_header, encode_txn_record, scan_log};
use keeper_core::Zxid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    if let Ok(rec) = decode_txn_record(rest) {
        assert_eq!(decode_txn_record(&encode_txn_record(&rec)), Ok(rec), "txn round trip");
    }
    let image = if pick & 1 == 0 { rest.to_vec() } else { framed(rest) };
    let scan = scan_log(&image);
    assert!(scan.valid_len as usize <= image.len());
    assert_eq!(scan.records.len(), scan.record_offsets.len());
    assert!(scan.record_offsets.windows(2).all(|w| w[0] < w[1]));
    assert!(scan.record_offsets.iter().all(|&o| o < scan.valid_len));
    if let End::TornTail { offset } = scan.end {
        assert_eq!(offset, scan.valid_len, "a torn tail starts where trust ends");
    }
    if scan.first_zxid.is_some() && !matches!(scan.end, End::Corrupt { .. }) {
        let again = scan_log(&image[..scan.valid_len as usize]);
        assert_eq!(again.records, scan.records, "the trusted prefix scans the same");
        assert_eq!(again.end, End::Clean);
    }
    let mut rebuilt = encode_log_header(scan.first_zxid.unwrap_or(Zxid(1))).to_vec();
    for rec in &scan.records {
        append_log_record(&mut rebuilt, rec);
    }
    let again = scan_log(&rebuilt);
    assert_eq!(again.records, scan.records, "re-encoded records scan back");
    assert_eq!(again.end, End::Clean);
});

/// A header, the input cut into checksummed records (2-byte big-endian length before each
/// payload), and whatever bytes are left over as the tail.
fn framed(mut input: &[u8]) -> Vec<u8> {
    let mut out = encode_log_header(Zxid(0x1_0000_0001)).to_vec();
    while input.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([input[0], input[1]]));
        if len == 0 || len > input.len() - 2 {
            break;
        }
        let payload = &input[2..2 + len];
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
        out.extend_from_slice(payload);
        input = &input[2 + len..];
    }
    out.extend_from_slice(input);
    out
}
