//! What only a member of an ensemble writes: the Zab epoch files and the truncation of a
//! divergent history.
//!
//! **Epochs.** `acceptedEpoch` and `currentEpoch` live in `dataDir/version-2`, named as
//! ZooKeeper names them and holding the number as decimal text. Each is replaced
//! atomically: `<name>.tmp` is written and fsynced, renamed over the old file, and the
//! directory fsynced, so a crash leaves the old value or the new one, never a torn file.
//! A file that is missing reads as "never recorded"; one that does not hold a number stops
//! start-up (an epoch read wrong could let the server vote for a stale history).
//!
//! **Truncation.** `Truncate { to }` drops every logged record above `to`: a log file whose
//! first record is above it is removed, a file that crosses it is cut at the first record
//! above it; snapshots labelled above `to` are removed too. Each change is fsynced (files,
//! then their directories) before the writer reports the write durable.

use std::fs::{self, OpenOptions};
use std::path::Path;

use keeper_core::ids::Zxid;
use keeper_core::persist::{scan_log, Epochs};

use super::files::{list_by_zxid, replace_file, sync_dir};
use super::StorageError;

/// ZooKeeper's name for the epoch a server last agreed to follow or lead.
pub const ACCEPTED_EPOCH_FILE: &str = "acceptedEpoch";
/// ZooKeeper's name for the epoch of the leader a server last synced with.
pub const CURRENT_EPOCH_FILE: &str = "currentEpoch";

/// Replaces `dir/name` with `value` atomically (see the module doc).
pub(crate) fn write_epoch(dir: &Path, name: &str, value: u32) -> std::io::Result<()> {
    replace_file(&dir.join(name), format!("{value}\n").as_bytes())
}

/// Reads both epoch files from `dir` (`dataDir/version-2`).
pub(crate) fn read_epochs(dir: &Path) -> Result<Epochs, StorageError> {
    Ok(Epochs {
        accepted: read_one(dir, ACCEPTED_EPOCH_FILE)?,
        current: read_one(dir, CURRENT_EPOCH_FILE)?,
    })
}

fn read_one(dir: &Path, name: &str) -> Result<Option<u32>, StorageError> {
    let path = dir.join(name);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("read", &path, e)),
    };
    text.trim()
        .parse::<u32>()
        .map(Some)
        .map_err(|_| StorageError::BadEpoch { path, text: text.trim().chars().take(40).collect() })
}

/// Drops every log record above `to` from the files in `log_dir`, durably.
pub(crate) fn truncate_logs(log_dir: &Path, to: Zxid) -> Result<(), StorageError> {
    let mut removed = false;
    for (first, path) in list_by_zxid(log_dir, "log")? {
        if first > to {
            fs::remove_file(&path).map_err(|e| StorageError::io("remove", &path, e))?;
            removed = true;
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| StorageError::io("read", &path, e))?;
        let scan = scan_log(&bytes);
        let cut = scan
            .records
            .iter()
            .zip(&scan.record_offsets)
            .find(|(r, _)| r.header.zxid > to)
            .map(|(_, offset)| *offset);
        if let Some(offset) = cut {
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| StorageError::io("open", &path, e))?;
            f.set_len(offset).map_err(|e| StorageError::io("truncate", &path, e))?;
            f.sync_all().map_err(|e| StorageError::io("fsync", &path, e))?;
        }
    }
    if removed {
        sync_dir(log_dir).map_err(|e| StorageError::io("fsync", log_dir, e))?;
    }
    Ok(())
}

/// Removes every snapshot in `snap_dir` labelled above `to`, durably.
pub(crate) fn remove_snapshots_above(snap_dir: &Path, to: Zxid) -> Result<(), StorageError> {
    let mut removed = false;
    for (zxid, path) in list_by_zxid(snap_dir, "snapshot")? {
        if zxid > to {
            fs::remove_file(&path).map_err(|e| StorageError::io("remove", &path, e))?;
            removed = true;
        }
    }
    if removed {
        sync_dir(snap_dir).map_err(|e| StorageError::io("fsync", snap_dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keeper_core::ids::SessionId;
    use keeper_core::persist::encode_log_header;
    use keeper_core::persist::log::append_log_record;
    use keeper_core::txn::{Txn, TxnHeader, TxnRecord};

    /// A fresh directory under the system temp dir, removed on drop.
    struct Tmp(std::path::PathBuf);
    impl Tmp {
        fn new() -> Tmp {
            use std::sync::atomic::{AtomicU64, Ordering};
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p =
                std::env::temp_dir().join(format!("keeper-replicated-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Tmp(p)
        }
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn rec(z: u64) -> TxnRecord {
        TxnRecord {
            header: TxnHeader { session: SessionId(1), cxid: 1, zxid: Zxid(z), time_ms: 0 },
            txn: Txn::Delete { path: format!("/n{z}") },
        }
    }

    fn log_file(dir: &Path, zxids: &[u64]) {
        let mut bytes = encode_log_header(Zxid(zxids[0])).to_vec();
        for z in zxids {
            append_log_record(&mut bytes, &rec(*z));
        }
        bytes.extend_from_slice(&[0; 64]); // preallocated zeros
        fs::write(dir.join(format!("log.{:x}", zxids[0])), bytes).unwrap();
    }

    fn zxids(dir: &Path) -> Vec<u64> {
        let mut out = Vec::new();
        for (_, path) in list_by_zxid(dir, "log").unwrap() {
            out.extend(scan_log(&fs::read(path).unwrap()).records.iter().map(|r| r.header.zxid.0));
        }
        out
    }

    #[test]
    fn truncation_cuts_the_crossing_file_and_removes_later_ones() {
        let d = Tmp::new();
        log_file(d.path(), &[1, 2, 3]);
        log_file(d.path(), &[4, 5, 6]);
        log_file(d.path(), &[7, 8]);
        fs::write(d.path().join("snapshot.3"), b"x").unwrap();
        fs::write(d.path().join("snapshot.6"), b"x").unwrap();
        truncate_logs(d.path(), Zxid(5)).unwrap();
        remove_snapshots_above(d.path(), Zxid(5)).unwrap();
        assert_eq!(zxids(d.path()), vec![1, 2, 3, 4, 5]);
        assert!(!d.path().join("log.7").exists());
        assert!(d.path().join("snapshot.3").exists());
        assert!(!d.path().join("snapshot.6").exists());
        // Truncating at or past the end changes nothing.
        truncate_logs(d.path(), Zxid(9)).unwrap();
        assert_eq!(zxids(d.path()), vec![1, 2, 3, 4, 5]);
        truncate_logs(d.path(), Zxid(0)).unwrap();
        assert_eq!(zxids(d.path()), Vec::<u64>::new());
    }

    #[test]
    fn epochs_are_replaced_and_read_back() {
        let d = Tmp::new();
        assert_eq!(read_epochs(d.path()).unwrap(), Epochs::default());
        write_epoch(d.path(), ACCEPTED_EPOCH_FILE, 3).unwrap();
        write_epoch(d.path(), ACCEPTED_EPOCH_FILE, 4).unwrap();
        write_epoch(d.path(), CURRENT_EPOCH_FILE, 2).unwrap();
        assert_eq!(read_epochs(d.path()).unwrap(), Epochs { accepted: Some(4), current: Some(2) });
        assert!(!d.path().join("acceptedEpoch.tmp").exists());
        fs::write(d.path().join(CURRENT_EPOCH_FILE), "two").unwrap();
        let err = read_epochs(d.path()).unwrap_err().to_string();
        assert!(err.contains("currentEpoch") && err.contains("two"), "{err}");
    }
}
