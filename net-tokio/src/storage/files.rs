//! The on-disk layout, as ZooKeeper lays it out, plus the dataDir lock and `myid`.
//!
//! `<dataLogDir>/version-2/log.<hex zxid of its first record>` and
//! `<dataDir>/version-2/snapshot.<hex zxid>`; a snapshot is written as
//! `snapshot.<hex>.tmp` and renamed, so a name without `.tmp` is always a whole file.
//! Lower-case hex without `0x`, as ZooKeeper names them, so `ls` sorts by age within an
//! epoch; code always sorts by the parsed zxid.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use keeper_core::ids::{ServerId, Zxid};

use super::StorageError;

/// The subdirectory both directories keep their files in (ZooKeeper's `version-2`).
pub const VERSION_DIR: &str = "version-2";
/// The lock file held for the life of a `Storage`.
pub const LOCK_FILE: &str = "keeper.lock";

/// The name of the log file whose first record has `zxid`.
pub fn log_name(zxid: Zxid) -> String {
    format!("log.{:x}", zxid.0)
}

/// The name of the snapshot at `zxid`.
pub fn snapshot_name(zxid: Zxid) -> String {
    format!("snapshot.{:x}", zxid.0)
}

/// Files in `dir` named `<prefix>.<hex>` exactly, sorted by zxid ascending.
pub fn list_by_zxid(dir: &Path, prefix: &str) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| StorageError::io("list", dir, e))? {
        let entry = entry.map_err(|e| StorageError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(hex) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        if let Ok(z) = u64::from_str_radix(hex, 16) {
            out.push((Zxid(z), entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Creates `<dir>/version-2` if needed and returns it.
pub fn version_dir(dir: &Path) -> Result<PathBuf, StorageError> {
    let v = dir.join(VERSION_DIR);
    fs::create_dir_all(&v).map_err(|e| StorageError::io("create directory", &v, e))?;
    Ok(v)
}

/// fsyncs a directory so that names created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Bytes a large file is written in between fsyncs (see [`replace_file`]).
const WRITE_SLICE: usize = 4 << 20;

/// Replaces `path` with `bytes` so that a crash leaves either the old file or the whole
/// new one: write `<path>.tmp`, fsync it, rename it over `path`, fsync the directory. On
/// error the temporary file is removed.
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        // A large file goes out a slice at a time, each made durable before the next is
        // written. Written whole, a snapshot of 250,000 znodes (about 70 MB) left all of
        // it dirty for one fsync of 60+ ms, and on ext4 (data=ordered) the log's
        // fdatasync in that window waited in the same journal commit: every snapshot
        // stalled the writes for as long. Sliced, a log fsync waits for one slice.
        let mut slices = bytes.chunks(WRITE_SLICE).peekable();
        while let Some(slice) = slices.next() {
            io::Write::write_all(&mut f, slice)?;
            if slices.peek().is_some() {
                f.sync_data()?;
            }
        }
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
            _ => sync_dir(Path::new(".")),
        }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// An exclusive lock on a directory, held until dropped (the OS releases it if we die).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Locks `dir` so that a second server pointed at it refuses to start.
pub fn lock_dir(dir: &Path) -> Result<DirLock, StorageError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StorageError::io("open lock file", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(StorageError::Locked { dir: dir.to_path_buf() }),
        Err(fs::TryLockError::Error(e)) => Err(StorageError::io("lock", &path, e)),
    }
}

/// Reads `<dataDir>/myid`: the server's id as decimal text, surrounding whitespace allowed.
pub fn read_myid(data_dir: &Path) -> Result<ServerId, StorageError> {
    let path = data_dir.join("myid");
    let text = fs::read_to_string(&path).map_err(|e| StorageError::io("read", &path, e))?;
    text.trim()
        .parse::<u64>()
        .map(ServerId)
        .map_err(|_| StorageError::BadMyid { path, text: text.trim().chars().take(40).collect() })
}
