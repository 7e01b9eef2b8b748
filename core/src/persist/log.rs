//! The transaction log file format (ours, not ZooKeeper's) and the scanner that decides,
//! after a crash, which part of a log file can be trusted.
//!
//! ```text
//! file   = header record* zero*
//! header = "KPLG" | version u32 BE (=1) | first zxid u64 BE | crc32c(previous 16 bytes) u32 BE
//! record = payload length u32 BE (> 0) | crc32c(payload) u32 BE | payload
//! payload = txn_codec::encode_txn_record(..)
//! ```
//! The shell preallocates log files with zeros, so the bytes after the last record are
//! zeros and a zero length field ends the records.
//!
//! **The torn-tail rule.** A crash can leave the record being written half on disk; such a
//! record was never fsynced, so no one was promised it, and it is cut off ("torn tail":
//! truncate the file at [`LogScan::valid_len`], warn, carry on). Damage anywhere else means
//! records that were promised are unreadable, and the node must not start ("corrupt":
//! refuse, naming the offset). Precisely, scanning from the header:
//! - a record whose length runs past the end of the file is a torn tail;
//! - a record whose checksum does not match is a torn tail if every byte after it (by its
//!   length) is zero, and corruption otherwise (something was written after it);
//! - a zero length is the clean end if every byte after it is zero, and corruption
//!   otherwise (a zeroed length field would otherwise hide the records behind it);
//! - a record whose checksum matches but whose payload does not decode is corruption
//!   wherever it is (the checksum says these are the bytes we wrote);
//! - a header that is shorter than 20 bytes, or whose checksum fails, is a torn tail at 0
//!   if nothing but zeros follows (the file was being created), and corruption otherwise.
//!
//! Known limit: a disk that persists the pages of one unsynced write out of order can leave
//! a damaged record followed by non-zero bytes; that is reported as corruption, erring
//! towards refusing to start rather than dropping a record that may have been promised.

use crate::ids::Zxid;
use crate::persist::txn_codec::{decode_txn_record, encode_txn_record_into};
use crate::txn::TxnRecord;

/// The first four bytes of every log file.
pub const LOG_MAGIC: [u8; 4] = *b"KPLG";
/// The log format version this build writes and reads.
pub const LOG_VERSION: u32 = 1;
/// Bytes in a log file header.
pub const LOG_HEADER_LEN: usize = 20;
/// Bytes before each record's payload (length and checksum).
pub const RECORD_PREFIX_LEN: usize = 8;

/// How a scan of a log file ended.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum End {
    /// Every byte after `valid_len` is zero (or there are none).
    Clean,
    /// An unfinished record starts at `offset` (== `valid_len`); truncate there and warn.
    TornTail { offset: u64 },
    /// Damage at `offset` that is not a torn tail: refuse to start.
    Corrupt { offset: u64, why: String },
}

/// The result of [`scan_log`]: the records that can be trusted, and how the file ended.
///
/// Invariant: `records` are exactly the records stored between the header and
/// `valid_len`, in file order; `record_offsets[i]` is where `records[i]` starts.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LogScan {
    /// The header's first zxid; `None` when the header itself is torn or corrupt.
    pub first_zxid: Option<Zxid>,
    pub records: Vec<TxnRecord>,
    pub record_offsets: Vec<u64>,
    /// Bytes up to the end of the last good record (0 when the header is not good).
    pub valid_len: u64,
    pub end: End,
}

/// The header of a log file whose first record will have `first_zxid`.
pub fn encode_log_header(first_zxid: Zxid) -> [u8; LOG_HEADER_LEN] {
    let mut h = [0u8; LOG_HEADER_LEN];
    h[0..4].copy_from_slice(&LOG_MAGIC);
    h[4..8].copy_from_slice(&LOG_VERSION.to_be_bytes());
    h[8..16].copy_from_slice(&first_zxid.0.to_be_bytes());
    let crc = crc32c::crc32c(&h[0..16]);
    h[16..20].copy_from_slice(&crc.to_be_bytes());
    h
}

/// Appends one framed record (length, checksum, payload) to `out`.
/// The payload is encoded in place after a placeholder for length and checksum, which are
/// patched afterwards: no buffer per record on the log writer's path.
pub fn append_log_record(out: &mut Vec<u8>, rec: &TxnRecord) {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    encode_txn_record_into(rec, out);
    let payload = &out[start + 8..];
    assert!(!payload.is_empty(), "a txn payload always holds its header");
    let len = u32::try_from(payload.len()).expect("a txn record is far below 4 GiB");
    let crc = crc32c::crc32c(payload);
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_be_bytes());
}

/// One framed record as bytes.
pub fn encode_log_record(rec: &TxnRecord) -> Vec<u8> {
    let mut out = Vec::new();
    append_log_record(&mut out, rec);
    out
}

/// Scans a whole log file image. Never panics; see the module doc for the rule.
pub fn scan_log(bytes: &[u8]) -> LogScan {
    let mut scan = LogScan {
        first_zxid: None,
        records: Vec::new(),
        record_offsets: Vec::new(),
        valid_len: 0,
        end: End::Clean,
    };
    match check_header(bytes) {
        Ok(z) => scan.first_zxid = Some(z),
        Err(end) => {
            scan.end = end;
            return scan;
        }
    }
    let mut pos = LOG_HEADER_LEN;
    scan.valid_len = pos as u64;
    scan.end = loop {
        let rest = &bytes[pos..];
        if rest.len() < RECORD_PREFIX_LEN {
            // Too short for a record prefix: preallocation zeros or a torn prefix.
            break if all_zero(rest) { End::Clean } else { End::TornTail { offset: pos as u64 } };
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len == 0 {
            break if all_zero(rest) {
                End::Clean
            } else {
                corrupt(pos, "zero record length but non-zero bytes follow")
            };
        }
        if rest.len() - RECORD_PREFIX_LEN < len {
            break End::TornTail { offset: pos as u64 };
        }
        let payload = &rest[RECORD_PREFIX_LEN..RECORD_PREFIX_LEN + len];
        let after = &rest[RECORD_PREFIX_LEN + len..];
        if crc32c::crc32c(payload) != crc {
            break if all_zero(after) {
                End::TornTail { offset: pos as u64 }
            } else {
                corrupt(pos, "record checksum mismatch with data after it")
            };
        }
        match decode_txn_record(payload) {
            Ok(rec) => {
                scan.records.push(rec);
                scan.record_offsets.push(pos as u64);
                pos += RECORD_PREFIX_LEN + len;
                scan.valid_len = pos as u64;
            }
            Err(e) => {
                break corrupt(pos, &format!("record checksum matches but it does not decode: {e}"))
            }
        }
    };
    debug_assert_eq!(scan.records.len(), scan.record_offsets.len());
    scan
}

fn check_header(bytes: &[u8]) -> Result<Zxid, End> {
    let torn_or = |why: &str| {
        if all_zero(bytes.get(LOG_HEADER_LEN.min(bytes.len())..).unwrap_or(&[])) {
            End::TornTail { offset: 0 }
        } else {
            corrupt(0, why)
        }
    };
    if bytes.len() < LOG_HEADER_LEN {
        // A short file with the wrong magic is not ours at all.
        let n = bytes.len().min(4);
        if !all_zero(bytes) && bytes[..n] != LOG_MAGIC[..n] {
            return Err(corrupt(0, "not a keeper log file (bad magic)"));
        }
        return Err(End::TornTail { offset: 0 });
    }
    let h = &bytes[..LOG_HEADER_LEN];
    let crc = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
    if crc32c::crc32c(&h[0..16]) != crc {
        return Err(torn_or("log header checksum mismatch"));
    }
    if h[0..4] != LOG_MAGIC {
        return Err(corrupt(0, "not a keeper log file (bad magic)"));
    }
    let version = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if version != LOG_VERSION {
        return Err(corrupt(0, &format!("unsupported log format version {version}")));
    }
    let mut z = [0u8; 8];
    z.copy_from_slice(&h[8..16]);
    Ok(Zxid(u64::from_be_bytes(z)))
}

fn corrupt(offset: usize, why: &str) -> End {
    End::Corrupt { offset: offset as u64, why: why.to_string() }
}

/// Whether every byte is zero. Compared a block at a time against a zero block (a
/// `memcmp`), since it runs over the whole preallocated tail of a log file on every restart.
fn all_zero(b: &[u8]) -> bool {
    const BLOCK: usize = 4096;
    static ZEROS: [u8; BLOCK] = [0; BLOCK];
    b.chunks(BLOCK).all(|c| c == &ZEROS[..c.len()])
}
