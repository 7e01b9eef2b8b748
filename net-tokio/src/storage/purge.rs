//! Purge: keep the newest N snapshots and the logs needed to replay from the oldest of them.
//!
//! Mirrors ZooKeeper's `PurgeTxnLog` (autopurge.snapRetainCount, minimum 3). Only snapshot
//! files that exist whole on disk are counted (`.tmp` files are not), so a snapshot still
//! being written never lets a log go. A log file is removed only when the next log file
//! starts at or below `oldest kept snapshot + 1`: every record in it then has a zxid at or
//! below the snapshot's, so it is never needed again. The newest log file is never removed
//! (it may be the one being appended to).

use std::fs;
use std::path::{Path, PathBuf};

use super::files::{list_by_zxid, sync_dir};
use super::StorageError;

/// Fewest snapshots purge may keep (ZooKeeper's own floor for snapRetainCount).
pub const MIN_KEEP_SNAPSHOTS: usize = 3;

/// What a purge removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub removed_snapshots: Vec<PathBuf>,
    pub removed_logs: Vec<PathBuf>,
}

/// Purges `<snap_dir>` and `<log_dir>` (the `version-2` directories themselves).
pub fn purge_dirs(
    snap_dir: &Path,
    log_dir: &Path,
    keep_snapshots: usize,
) -> Result<PurgeReport, StorageError> {
    if keep_snapshots < MIN_KEEP_SNAPSHOTS {
        return Err(StorageError::BadPurgeCount { keep_snapshots });
    }
    let mut report = PurgeReport::default();
    let snaps = list_by_zxid(snap_dir, "snapshot")?;
    if snaps.len() <= keep_snapshots {
        return Ok(report);
    }
    let (old, kept) = snaps.split_at(snaps.len() - keep_snapshots);
    let oldest_kept = kept[0].0;
    for (_, path) in old {
        fs::remove_file(path).map_err(|e| StorageError::io("remove", path, e))?;
        report.removed_snapshots.push(path.clone());
    }
    let logs = list_by_zxid(log_dir, "log")?;
    for pair in logs.windows(2) {
        let (next_start, _) = pair[1];
        if next_start.0 <= oldest_kept.0.saturating_add(1) {
            let path = &pair[0].1;
            fs::remove_file(path).map_err(|e| StorageError::io("remove", path, e))?;
            report.removed_logs.push(path.clone());
        }
    }
    // Not needed for safety (a removed file that comes back after a crash is only old
    // data), but it keeps the directories as the report says.
    sync_dir(snap_dir).map_err(|e| StorageError::io("fsync", snap_dir, e))?;
    sync_dir(log_dir).map_err(|e| StorageError::io("fsync", log_dir, e))?;
    for p in report.removed_snapshots.iter().chain(&report.removed_logs) {
        tracing::info!("purged {}", p.display());
    }
    Ok(report)
}
