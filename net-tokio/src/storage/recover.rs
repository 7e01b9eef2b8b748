//! Recovery: the newest snapshot that decodes, then every log record after it.
//!
//! Snapshots are tried newest first; one that fails to read or decode (or whose zxid
//! disagrees with its name) is skipped with a warning, and the next older one is tried:
//! purge keeps the logs from the oldest kept snapshot on, so falling back loses nothing.
//! Log files are scanned in zxid order with `keeper_core::persist::scan_log`; a torn tail on
//! the last file is cut off (truncate, fsync, warn), anything else damaged stops startup
//! with the file and offset. The records after the snapshot must continue it without a
//! hole (within an epoch each zxid is the one before plus one; a new epoch starts at
//! counter 1): a removed or purged log file that the snapshot does not cover stops startup
//! too, rather than serve a tree without those transactions.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use keeper_core::ids::Zxid;
use keeper_core::persist::{scan_log, End, Epochs, PersistError};
use keeper_core::txn::TxnRecord;

use super::files::{list_by_zxid, sync_dir};
use super::StorageError;

/// Decodes a snapshot file into its zxid and whatever the caller keeps of it.
pub(crate) type SnapshotDecoder<'a, T> = dyn FnMut(&[u8]) -> Result<(Zxid, T), PersistError> + 'a;

/// What recovery found, before the snapshot's tree is interpreted.
pub(crate) struct Found<T> {
    pub snapshot: Option<T>,
    /// The zxid the loaded snapshot is labelled with.
    pub snapshot_zxid: Option<Zxid>,
    pub log: Vec<TxnRecord>,
    /// The highest zxid on disk (log or snapshot): new appends must be above it.
    pub last_zxid: Zxid,
    /// The epoch files' values (a member of an ensemble writes them).
    pub epochs: Epochs,
}

/// Loads the newest snapshot `decode` accepts, then the log after it.
pub(crate) fn recover<T>(
    snap_dir: &Path,
    log_dir: &Path,
    decode: &mut SnapshotDecoder<'_, T>,
) -> Result<Found<T>, StorageError> {
    remove_tmp_snapshots(snap_dir)?;
    let snaps = list_by_zxid(snap_dir, "snapshot")?;
    let mut snapshot = None;
    let mut snap_zxid = Zxid::ZERO;
    // The newest snapshot skipped as unreadable: its name still says how far history went.
    let mut skipped: Option<(Zxid, PathBuf)> = None;
    for (zxid, path) in snaps.iter().rev() {
        let result = fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| decode(&b).map_err(|e| e.to_string()))
            .and_then(|(z, t)| {
                if z == *zxid {
                    Ok(t)
                } else {
                    Err(format!("holds zxid {z}, not the {zxid} its name says"))
                }
            });
        match result {
            Ok(t) => {
                snapshot = Some(t);
                snap_zxid = *zxid;
                break;
            }
            Err(why) => {
                tracing::warn!("skipping snapshot {}: {why}; trying an older one", path.display());
                skipped.get_or_insert((*zxid, path.clone()));
            }
        }
    }
    if snapshot.is_none() && !snaps.is_empty() {
        // The logs before the oldest snapshot may have been purged: starting from an empty
        // tree could silently lose data.
        return Err(StorageError::NoUsableSnapshot { dir: snap_dir.to_path_buf() });
    }
    let (log, last_log) = recover_log(log_dir, snap_zxid)?;
    if let Some((zxid, path)) = skipped {
        let reached = last_log.max(snap_zxid);
        if reached < zxid {
            // Falling back is only safe if the logs replay at least as far as the snapshot
            // that could not be read; otherwise the last transactions are gone.
            return Err(StorageError::CorruptLog {
                path,
                offset: 0,
                why: format!(
                    "this unreadable snapshot shows history reached {zxid}, but the older \
                     snapshot and the logs end at {reached}: the transactions between are \
                     missing"
                ),
            });
        }
    }
    let snapshot_zxid = snapshot.is_some().then_some(snap_zxid);
    let epochs = super::replicated::read_epochs(snap_dir)?;
    Ok(Found { snapshot, snapshot_zxid, log, last_zxid: last_log.max(snap_zxid), epochs })
}

/// Every record with zxid above `after`, and the highest zxid in any log file that may
/// hold one. A log file whose successor starts at or below `after + 1` holds only records
/// the snapshot already covers; it is not read at all (as ZooKeeper skips such files),
/// which keeps restart time proportional to the log since the snapshot.
fn recover_log(log_dir: &Path, after: Zxid) -> Result<(Vec<TxnRecord>, Zxid), StorageError> {
    let files = list_by_zxid(log_dir, "log")?;
    let mut out = Vec::new();
    let mut last = Zxid::ZERO;
    for (i, (name_zxid, path)) in files.iter().enumerate() {
        let is_last = i + 1 == files.len();
        if files.get(i + 1).is_some_and(|(next, _)| next.0 <= after.0.saturating_add(1)) {
            continue;
        }
        let bytes = fs::read(path).map_err(|e| StorageError::io("read", path, e))?;
        let scan = scan_log(&bytes);
        let corrupt =
            |offset: u64, why: String| StorageError::CorruptLog { path: path.clone(), offset, why };
        match (&scan.end, is_last) {
            (End::Clean, _) => {}
            (End::TornTail { offset }, true) => {
                truncate_torn(path, log_dir, *offset, scan.valid_len)?
            }
            (End::TornTail { offset }, false) => {
                return Err(corrupt(
                    *offset,
                    "torn record in a log file that later log files follow".into(),
                ))
            }
            (End::Corrupt { offset, why }, _) => return Err(corrupt(*offset, why.clone())),
        }
        if is_last && scan.records.is_empty() && path.exists() {
            // Created but never given a record: the next append will want this name.
            tracing::warn!("removing log {} which holds no record", path.display());
            fs::remove_file(path).map_err(|e| StorageError::io("remove", path, e))?;
            sync_dir(log_dir).map_err(|e| StorageError::io("fsync", log_dir, e))?;
            continue;
        }
        if let Some(first) = scan.first_zxid {
            if first != *name_zxid {
                return Err(corrupt(
                    0,
                    format!("header says first zxid {first}, name says {name_zxid}"),
                ));
            }
        }
        if let Some(r) = scan.records.first() {
            if r.header.zxid != *name_zxid {
                return Err(corrupt(
                    scan.record_offsets[0],
                    format!("first record has zxid {}, name says {name_zxid}", r.header.zxid),
                ));
            }
        }
        for (rec, offset) in scan.records.into_iter().zip(scan.record_offsets) {
            if rec.header.zxid <= last {
                return Err(corrupt(
                    offset,
                    format!("zxid {} is not above {last}", rec.header.zxid),
                ));
            }
            last = rec.header.zxid;
            if rec.header.zxid > after {
                let prev = out.last().map_or(after, |r: &TxnRecord| r.header.zxid);
                if !follows(prev, rec.header.zxid) {
                    return Err(corrupt(
                        offset,
                        format!(
                            "zxid {} does not follow {prev}: the transactions between are missing \
                             (a log file was removed or purged)",
                            rec.header.zxid
                        ),
                    ));
                }
                out.push(rec);
            }
        }
    }
    Ok((out, last))
}

/// True when `next` is the zxid right after `prev`: the next counter in the same epoch, or
/// the first of a later epoch (how the node numbers its transactions).
fn follows(prev: Zxid, next: Zxid) -> bool {
    if next.epoch() == prev.epoch() {
        next.0 == prev.0 + 1
    } else {
        next.epoch() > prev.epoch() && next.counter() == 1
    }
}

/// Cuts a torn tail off the last log file; a file left with no header is removed, since
/// a new file with the same name may be created for the next append.
fn truncate_torn(
    path: &PathBuf,
    log_dir: &Path,
    offset: u64,
    valid_len: u64,
) -> Result<(), StorageError> {
    tracing::warn!(
        "log {} has a torn tail at offset {offset} (a write cut short by a crash); truncating it",
        path.display()
    );
    if valid_len == 0 {
        fs::remove_file(path).map_err(|e| StorageError::io("remove", path, e))?;
        return sync_dir(log_dir).map_err(|e| StorageError::io("fsync", log_dir, e));
    }
    let f =
        OpenOptions::new().write(true).open(path).map_err(|e| StorageError::io("open", path, e))?;
    f.set_len(valid_len).map_err(|e| StorageError::io("truncate", path, e))?;
    f.sync_all().map_err(|e| StorageError::io("fsync", path, e))
}

/// Leftover `snapshot.*.tmp` files are snapshots a crash interrupted; never trusted.
fn remove_tmp_snapshots(snap_dir: &Path) -> Result<(), StorageError> {
    for entry in fs::read_dir(snap_dir).map_err(|e| StorageError::io("list", snap_dir, e))? {
        let path = entry.map_err(|e| StorageError::io("list", snap_dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("snapshot.") && name.ends_with(".tmp") {
            tracing::warn!("removing unfinished snapshot {}", path.display());
            fs::remove_file(&path).map_err(|e| StorageError::io("remove", &path, e))?;
        }
    }
    Ok(())
}
