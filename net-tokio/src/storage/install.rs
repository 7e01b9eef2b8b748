//! Seeding a new dataDir with one snapshot: what `keeper restore` and `keeper import-zk`
//! write, and what `keeper server` then starts from.
//!
//! Invariant: a dataDir is only ever seeded when it holds nothing keeper would read (no
//! `version-2` files; `myid` and keeper's own lock file may be there), so a seed never mixes
//! with an older history: the server recovers exactly the image, at its zxid, with no log
//! after it. The snapshot is written as the writer thread writes its own (tmp file, fsync,
//! rename, directory fsync), under the dataDir lock, so a running server is never seeded.

use std::fs;
use std::path::{Path, PathBuf};

use keeper_core::ids::Zxid;

use super::files::{self, lock_dir, snapshot_name, sync_dir, LOCK_FILE};
use super::{writer, StorageError};

/// Files a dataDir may hold and still count as empty for seeding.
const ALLOWED_IN_EMPTY: [&str; 2] = ["myid", LOCK_FILE];

/// Fails unless `dir` is missing or holds only `myid` and keeper's lock file.
pub fn check_empty(dir: &Path) -> Result<(), StorageError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StorageError::io("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::io("list", dir, e))?;
        let name = entry.file_name();
        if !ALLOWED_IN_EMPTY.iter().any(|a| name == *a) {
            return Err(StorageError::NotEmpty { dir: dir.to_path_buf(), entry: entry.path() });
        }
    }
    Ok(())
}

/// Writes `image` (a keeper snapshot file image at `zxid`) as the only snapshot of a new
/// dataDir (and checks that dataLogDir is empty too). Returns the snapshot's path.
pub fn install_snapshot(
    data_dir: &Path,
    data_log_dir: &Path,
    zxid: Zxid,
    image: &[u8],
) -> Result<PathBuf, StorageError> {
    check_empty(data_dir)?;
    check_empty(data_log_dir)?;
    for dir in [data_dir, data_log_dir] {
        fs::create_dir_all(dir).map_err(|e| StorageError::io("create directory", dir, e))?;
    }
    let _lock = lock_dir(data_dir)?;
    let _log_lock = if data_dir.canonicalize().ok() != data_log_dir.canonicalize().ok() {
        Some(lock_dir(data_log_dir)?)
    } else {
        None
    };
    // Checked again under the lock: a server may have started in between.
    check_empty(&data_dir.join(files::VERSION_DIR))?;
    let snap_dir = files::version_dir(data_dir)?;
    files::version_dir(data_log_dir)?;
    writer::write_snapshot(&snap_dir, zxid, image)
        .map_err(|e| StorageError::io("write snapshot in", &snap_dir, e))?;
    if let Some(parent) = snap_dir.parent() {
        sync_dir(parent).map_err(|e| StorageError::io("fsync", parent, e))?;
    }
    Ok(snap_dir.join(snapshot_name(zxid)))
}
