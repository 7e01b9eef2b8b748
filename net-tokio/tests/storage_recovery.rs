//! Recovery from damaged logs: torn tails are cut off, damage in the middle stops startup.

mod storage_common;

use keeper_core::persist::scan_log;
use keeper_net::storage::{Storage, StorageError};
use std::io::{Seek, SeekFrom, Write};
use storage_common::*;
use tokio::sync::mpsc::unbounded_channel;

fn write_ten(d: &TempDir) -> std::path::PathBuf {
    let (s, _r, mut rx) = open(d.path());
    append_all(&s, 1, 1..=10);
    wait_for(&mut rx, 10);
    s.close();
    log_files(d.path()).pop().unwrap()
}

/// A half-written record at the end (a crash mid-write) is truncated on reopen and the
/// records before it are kept; appending afterwards works.
#[test]
fn torn_tail_is_truncated() {
    let d = TempDir::new("rec-torn");
    let file = write_ten(&d);
    let valid = scan_log(&std::fs::read(&file).unwrap()).valid_len;
    let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.seek(SeekFrom::Start(valid)).unwrap();
    // Length 60, a wrong checksum, and only part of the payload: zeros follow.
    f.write_all(&[0, 0, 0, 60, 1, 2, 3, 4, 9, 9, 9]).unwrap();
    drop(f);

    let (s, r, mut rx) = open(d.path());
    assert_eq!(r.log, (1..=10).map(rec).collect::<Vec<_>>());
    assert_eq!(std::fs::metadata(&file).unwrap().len(), valid, "truncated at the last good record");
    append_all(&s, 1, 11..=12);
    wait_for(&mut rx, 2);
    s.close();
    let (_s, r, _rx) = open(d.path());
    assert_eq!(r.log, (1..=12).map(rec).collect::<Vec<_>>());
}

/// A record cut off by the end of the file (no preallocation reached) is a torn tail too.
#[test]
fn record_past_eof_is_torn_tail() {
    let d = TempDir::new("rec-eof");
    let file = write_ten(&d);
    let scan = scan_log(&std::fs::read(&file).unwrap());
    let cut = scan.record_offsets[9] + 5;
    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(cut).unwrap();
    let (_s, r, _rx) = open(d.path());
    assert_eq!(r.log, (1..=9).map(rec).collect::<Vec<_>>());
}

/// A flipped byte in a record with good records after it refuses startup, and the error
/// names the file and the record's offset.
#[test]
fn corrupt_middle_is_refused_with_file_and_offset() {
    let d = TempDir::new("rec-corrupt");
    let file = write_ten(&d);
    let mut bytes = std::fs::read(&file).unwrap();
    let offset = scan_log(&bytes).record_offsets[4];
    bytes[offset as usize + 12] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();

    let (tx, _rx) = unbounded_channel();
    let err = match Storage::open_images(d.path(), d.path(), tx, small_options()) {
        Err(e) => e,
        Ok(_) => panic!("a corrupt log must not open"),
    };
    assert!(matches!(&err, StorageError::CorruptLog { offset: o, .. } if *o == offset), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("log.1") && msg.contains(&format!("offset {offset}")), "{msg}");
}

/// A torn tail in a log file that later files follow is not a crash artefact: refused.
#[test]
fn torn_tail_before_a_later_file_is_refused() {
    let d = TempDir::new("rec-torn-mid");
    let first = write_ten(&d);
    let (s, _r, mut rx) = open(d.path());
    append_all(&s, 1, 11..=12);
    wait_for(&mut rx, 2);
    s.close();
    let scan = scan_log(&std::fs::read(&first).unwrap());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap()
        .set_len(scan.record_offsets[9] + 6)
        .unwrap();
    let (tx, _rx) = unbounded_channel();
    assert!(matches!(
        Storage::open_images(d.path(), d.path(), tx, small_options()),
        Err(StorageError::CorruptLog { .. })
    ));
}
