//! Snapshots through the store: write + roll + reopen, fallback, purge.
//!
//! The tree codec is not part of this crate's tests: images carry opaque tree bytes and the
//! store is opened with `open_images`, which checks framing and checksum only.

mod storage_common;

use bytes::Bytes;
use keeper_core::ids::{PersistSeq, SessionId, Zxid};
use keeper_core::output::DurableWrite;
use keeper_core::persist::encode_snapshot_image;
use keeper_net::storage::{purge, Storage, StorageError, StorageOptions};
use storage_common::*;
use tokio::sync::mpsc::unbounded_channel;

fn image(z: u64) -> Bytes {
    Bytes::from(encode_snapshot_image(
        Zxid(z),
        &[(SessionId(7), 4000)],
        format!("tree@{z}").as_bytes(),
    ))
}

fn snapshot(s: &Storage, seq: u64, z: u64) {
    s.persist(PersistSeq(seq), DurableWrite::Snapshot { zxid: Zxid(z), image: image(z) });
}

/// A snapshot at 5 with records 6..8 after it: reopen gives the snapshot and only 6..8, and
/// the records after the snapshot went to a new log file (roll).
#[test]
fn snapshot_roll_reopen() {
    let d = TempDir::new("snap-roll");
    let (s, _r, mut rx) = open(d.path());
    append_all(&s, 1, 1..=5);
    snapshot(&s, 6, 5);
    append_all(&s, 7, 6..=8);
    wait_for(&mut rx, 9);
    s.close();
    assert_eq!(snapshot_files(d.path()), vec!["snapshot.5"]);
    let logs: Vec<String> = log_files(d.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(logs, vec!["log.1", "log.6"]);

    let (_s, r, _rx) = open(d.path());
    let snap = r.snapshot.expect("snapshot recovered");
    assert_eq!(snap.zxid, Zxid(5));
    assert_eq!(snap.sessions, vec![(SessionId(7), 4000)]);
    assert_eq!(snap.tree_bytes, b"tree@5");
    assert_eq!(r.log, (6..=8).map(rec).collect::<Vec<_>>());
}

/// A snapshot larger than one write slice (4 MiB; it goes out a slice at a time, each
/// fdatasynced, so a big one does not stall the log's fsync) comes back byte for byte.
#[test]
fn a_snapshot_of_many_slices_reopens_whole() {
    let d = TempDir::new("snap-slices");
    let (s, _r, mut rx) = open(d.path());
    append_all(&s, 1, 1..=3);
    // 9 MiB + 5 bytes: two whole slices and a short third, each byte different from its
    // neighbours' slice positions, so a slice written twice or out of place would show.
    let tree: Vec<u8> =
        (0..(9usize << 20) + 5).map(|i| (i % 251) as u8 ^ (i >> 20) as u8).collect();
    let big = Bytes::from(encode_snapshot_image(Zxid(3), &[(SessionId(7), 4000)], &tree));
    s.persist(PersistSeq(4), DurableWrite::Snapshot { zxid: Zxid(3), image: big });
    append_all(&s, 5, 4..=4);
    wait_for(&mut rx, 5);
    s.close();
    let (_s, r, _rx) = open(d.path());
    let snap = r.snapshot.expect("snapshot recovered");
    assert_eq!(snap.zxid, Zxid(3));
    assert!(snap.tree_bytes == tree, "the tree bytes differ after reopening");
    assert_eq!(r.log, vec![rec(4)]);
}

/// Log files wholly covered by the snapshot are not read on restart: damage in one (here a
/// flipped byte in a record of log.1, which would fail a scan) does not matter, and the
/// store recovers the snapshot plus the records after it.
#[test]
fn logs_before_the_snapshot_are_not_read() {
    let d = TempDir::new("snap-skip-old-logs");
    let (s, _r, mut rx) = open(d.path());
    append_all(&s, 1, 1..=5);
    snapshot(&s, 6, 5);
    append_all(&s, 7, 6..=8);
    wait_for(&mut rx, 9);
    s.close();
    let old = d.path().join("version-2/log.1");
    let mut b = std::fs::read(&old).unwrap();
    let mid = b.iter().rposition(|&x| x != 0).unwrap() - 3;
    b[mid] ^= 0xff;
    std::fs::write(&old, b).unwrap();

    let (_s, r, _rx) = open(d.path());
    assert_eq!(r.snapshot.expect("snapshot recovered").zxid, Zxid(5));
    assert_eq!(r.log, (6..=8).map(rec).collect::<Vec<_>>());
}

/// A damaged newest snapshot is skipped for the one before it, and the log fills the gap.
#[test]
fn damaged_newest_snapshot_falls_back() {
    let d = TempDir::new("snap-fallback");
    let (s, _r, mut rx) = open(d.path());
    append_all(&s, 1, 1..=3);
    snapshot(&s, 4, 3);
    append_all(&s, 5, 4..=6);
    snapshot(&s, 8, 6);
    append_all(&s, 9, 7..=7);
    wait_for(&mut rx, 9);
    s.close();
    let newest = d.path().join("version-2/snapshot.6");
    let mut b = std::fs::read(&newest).unwrap();
    b[20] ^= 1;
    std::fs::write(&newest, b).unwrap();

    let (_s, r, _rx) = open(d.path());
    assert_eq!(r.snapshot.unwrap().zxid, Zxid(3));
    assert_eq!(r.log, (4..=7).map(rec).collect::<Vec<_>>());
}

/// Snapshots every 2 records, then purge keeping 3: the 3 newest snapshots stay, log files
/// wholly before the oldest kept one go, and the store still recovers the same state.
#[test]
fn purge_keeps_newest_n() {
    let d = TempDir::new("snap-purge");
    let (s, _r, mut rx) = open(d.path());
    let mut seq = 1;
    for round in 0..6u64 {
        seq = append_all(&s, seq, round * 2 + 1..=round * 2 + 2);
        snapshot(&s, seq, round * 2 + 2);
        seq += 1;
    }
    seq = append_all(&s, seq, 13..=13);
    wait_for(&mut rx, seq - 1);
    assert!(matches!(s.purge(2), Err(StorageError::BadPurgeCount { keep_snapshots: 2 })));
    s.close();
    assert_eq!(snapshot_files(d.path()).len(), 6);

    let report = purge(d.path(), d.path(), 3).unwrap();
    assert_eq!(report.removed_snapshots.len(), 3);
    assert_eq!(snapshot_files(d.path()), vec!["snapshot.8", "snapshot.a", "snapshot.c"]);
    // Logs start at 1,3,5,7,9,11,13; the oldest kept snapshot is 8, so log.7 (7..8) is
    // wholly covered by it and goes; log.9 holds 9..10 and stays.
    let logs: Vec<String> = log_files(d.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(logs, vec!["log.9", "log.b", "log.d"]);

    let (_s, r, _rx) = open(d.path());
    assert_eq!(r.snapshot.unwrap().zxid, Zxid(12));
    assert_eq!(r.log, vec![rec(13)]);
}

/// With autopurge on, the snapshot thread purges after each snapshot it writes.
#[test]
fn auto_purge_after_snapshot() {
    let d = TempDir::new("snap-autopurge");
    let (tx, mut rx) = unbounded_channel();
    let opts = StorageOptions { auto_purge_keep: Some(3), ..small_options() };
    let (s, _r) = Storage::open_images(d.path(), d.path(), tx, opts).unwrap();
    let mut seq = 1;
    for z in 1..=5u64 {
        seq = append_all(&s, seq, z..=z);
        snapshot(&s, seq, z);
        seq += 1;
    }
    wait_for(&mut rx, seq - 1);
    s.close(); // joins the snapshot thread, so every snapshot and purge has run
    assert_eq!(snapshot_files(d.path()), vec!["snapshot.3", "snapshot.4", "snapshot.5"]);
}

/// A snapshot a crash interrupted (`.tmp`) is removed at open and never used.
#[test]
fn unfinished_snapshot_is_ignored() {
    let d = TempDir::new("snap-tmp");
    let (s, _r, mut rx) = open(d.path());
    append_all(&s, 1, 1..=2);
    wait_for(&mut rx, 2);
    s.close();
    let tmp = d.path().join("version-2/snapshot.2.tmp");
    std::fs::write(&tmp, image(2)).unwrap();
    let (_s, r, _rx) = open(d.path());
    assert_eq!(r.snapshot, None);
    assert_eq!(r.log, vec![rec(1), rec(2)]);
    assert!(!tmp.exists());
}

/// When snapshots exist but none can be read, starting empty could lose purged history:
/// refused.
#[test]
fn no_readable_snapshot_is_refused() {
    let d = TempDir::new("snap-none");
    let (s, _r, mut rx) = open(d.path());
    append_all(&s, 1, 1..=2);
    snapshot(&s, 3, 2);
    wait_for(&mut rx, 3);
    s.close();
    std::fs::write(d.path().join("version-2/snapshot.2"), b"KPSN garbage").unwrap();
    let (tx, _rx) = unbounded_channel();
    let err = Storage::open_images(d.path(), d.path(), tx, small_options()).err().expect("refused");
    assert!(matches!(err, StorageError::NoUsableSnapshot { .. }), "{err}");
}

/// The full `open` decodes the tree through `keeper_core::persist::decode_snapshot`.
#[test]
fn open_decodes_tree_snapshots() {
    use keeper_core::persist::encode_snapshot;
    use keeper_core::tree::DataTree;
    let d = TempDir::new("snap-tree");
    let (s, _r, mut rx) = open(d.path());
    append_all(&s, 1, 1..=2);
    let img = encode_snapshot(Zxid(2), &[(SessionId(1), 5000)], &DataTree::new());
    s.persist(PersistSeq(3), DurableWrite::Snapshot { zxid: Zxid(2), image: Bytes::from(img) });
    append_all(&s, 4, 3..=3);
    wait_for(&mut rx, 4);
    s.close();
    let (tx, _rx) = unbounded_channel();
    let (_s, r) = Storage::open(d.path(), d.path(), tx).unwrap();
    let snap = r.snapshot.unwrap();
    assert_eq!((snap.zxid, snap.sessions), (Zxid(2), vec![(SessionId(1), 5000)]));
    assert_eq!(r.log, vec![rec(3)]);
}

/// dataDir and dataLogDir apart: snapshots in one, logs in the other, both recovered.
#[test]
fn separate_data_and_log_dirs() {
    let data = TempDir::new("snap-data");
    let logs = TempDir::new("snap-logs");
    let (tx, mut rx) = unbounded_channel();
    let (s, _r) = Storage::open_images(data.path(), logs.path(), tx, small_options()).unwrap();
    append_all(&s, 1, 1..=2);
    snapshot(&s, 3, 2);
    append_all(&s, 4, 3..=4);
    wait_for(&mut rx, 5);
    s.close();
    assert_eq!(snapshot_files(data.path()), vec!["snapshot.2"]);
    assert!(snapshot_files(logs.path()).is_empty());
    assert_eq!(log_files(logs.path()).len(), 2);
    assert!(log_files(data.path()).is_empty());
    let (tx, _rx) = unbounded_channel();
    let (_s, r) = Storage::open_images(data.path(), logs.path(), tx, small_options()).unwrap();
    assert_eq!(r.snapshot.unwrap().zxid, Zxid(2));
    assert_eq!(r.log, vec![rec(3), rec(4)]);
}
