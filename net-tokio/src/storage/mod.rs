//! The file store: transaction log and snapshots on disk, recovery, group commit, purge.
//!
//! How to drive it: [`Storage::open`] locks the dataDir, recovers the newest usable
//! snapshot and the log after it (handed to `Node::recover`), and starts two threads. Each
//! `Output::Persist { seq, write }` goes to [`Storage::persist`] in seq order; the highest
//! seq made durable comes back on the `synced` channel given to `open`, to be fed to the
//! node as `Input::Persisted { up_to }`. [`Storage::close`] (or drop) finishes the queued
//! writes and joins the threads.
//!
//! Layout and names follow ZooKeeper (`version-2/log.<hex>`, `version-2/snapshot.<hex>`,
//! `myid`); the bytes inside are keeper's own formats from `keeper_core::persist`. The sync
//! order and the failure policy are in [`writer`]'s doc, the recovery rules in [`recover`]'s,
//! the purge rule in [`purge`]'s. This module decides nothing about ZooKeeper: it only moves
//! bytes between the node and the disk (STYLE.md §11).

mod files;
mod install;
mod purge;
mod recover;
mod replicated;
mod writer;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use keeper_core::ids::{PersistSeq, SessionId, Zxid};
use keeper_core::output::DurableWrite;
use keeper_core::persist::{decode_snapshot, decode_snapshot_image, Recovered};
use keeper_core::txn::TxnRecord;
use tokio::sync::mpsc::UnboundedSender;

use crate::stats::{ShellStats, SnapshotInfo};

pub use files::{lock_dir, log_name, read_myid, replace_file, snapshot_name, DirLock, VERSION_DIR};
pub use install::{check_empty, install_snapshot};
pub use purge::{purge_dirs, PurgeReport, MIN_KEEP_SNAPSHOTS};
pub use replicated::{ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE};
pub use writer::{is_out_of_space, StorageFull, MAX_BATCH_BYTES, PREALLOC_BYTES};

/// Why the store could not open, recover or purge. Each message names the file (and the
/// offset, for damaged logs) so an operator knows where to look.
#[derive(Debug)]
pub enum StorageError {
    /// A filesystem call failed.
    Io { what: &'static str, path: PathBuf, source: io::Error },
    /// Another process holds the directory's lock.
    Locked { dir: PathBuf },
    /// A log file is damaged somewhere other than a torn tail: refuse to start.
    CorruptLog { path: PathBuf, offset: u64, why: String },
    /// Snapshots exist but none decodes; starting empty could lose purged history.
    NoUsableSnapshot { dir: PathBuf },
    /// `myid` does not hold a server id.
    BadMyid { path: PathBuf, text: String },
    /// purge was asked to keep fewer than [`MIN_KEEP_SNAPSHOTS`].
    BadPurgeCount { keep_snapshots: usize },
    /// A directory to seed (restore, import) already holds `entry`.
    NotEmpty { dir: PathBuf, entry: PathBuf },
    /// An epoch file (`acceptedEpoch`, `currentEpoch`) does not hold a number.
    BadEpoch { path: PathBuf, text: String },
}

impl StorageError {
    fn io(what: &'static str, path: &Path, source: io::Error) -> StorageError {
        StorageError::Io { what, path: path.to_path_buf(), source }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Io { what, path, source } => write!(f, "cannot {what} {}: {source}", path.display()),
            StorageError::Locked { dir } => {
                write!(f, "{} is in use by another keeper server (its lock is held)", dir.display())
            }
            StorageError::CorruptLog { path, offset, why } => write!(
                f,
                "transaction log {} is corrupt at offset {offset}: {why}; refusing to start \
                 (records that may have been acknowledged are unreadable)",
                path.display()
            ),
            StorageError::NoUsableSnapshot { dir } => {
                write!(f, "no snapshot in {} can be read; refusing to start", dir.display())
            }
            StorageError::BadMyid { path, text } => {
                write!(f, "{} must hold a server id number, found {text:?}", path.display())
            }
            StorageError::BadPurgeCount { keep_snapshots } => write!(
                f,
                "purge must keep at least {MIN_KEEP_SNAPSHOTS} snapshots, asked to keep {keep_snapshots}"
            ),
            StorageError::BadEpoch { path, text } => write!(
                f,
                "{} must hold an epoch number, found {text:?}; refusing to start",
                path.display()
            ),
            StorageError::NotEmpty { dir, entry } => write!(
                f,
                "{} is not empty (it holds {}); give a new or empty directory",
                dir.display(),
                entry.display()
            ),
        }
    }
}

impl std::error::Error for StorageError {}

/// Tunables; the defaults are what a server uses.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// Log files grow in blocks of this many bytes.
    pub prealloc_bytes: u64,
    /// Purge after each snapshot, keeping this many (ZooKeeper's autopurge); `None` = never.
    pub auto_purge_keep: Option<usize>,
    /// Where fsync and snapshot durations and the last snapshot are recorded.
    pub stats: Arc<ShellStats>,
    /// Where the log writer reports a full disk (and stops) instead of aborting the
    /// process; `None` keeps a full disk fatal. See [`writer`]'s doc.
    pub on_full: Option<UnboundedSender<StorageFull>>,
}

impl Default for StorageOptions {
    fn default() -> StorageOptions {
        StorageOptions {
            prealloc_bytes: PREALLOC_BYTES,
            auto_purge_keep: None,
            stats: Arc::default(),
            on_full: None,
        }
    }
}

/// A snapshot whose framing and checksum are verified but whose tree is still bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotImageOwned {
    pub zxid: Zxid,
    pub sessions: Vec<(SessionId, i32)>,
    pub tree_bytes: Vec<u8>,
}

/// What [`Storage::open_images`] recovers: like `Recovered`, with the tree undecoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveredImages {
    pub snapshot: Option<SnapshotImageOwned>,
    /// Records with zxid above the snapshot's, in zxid order.
    pub log: Vec<TxnRecord>,
}

/// An open store: the dataDir lock and the two writer threads.
///
/// Invariant: while a `Storage` lives, no other `Storage` (in any process) has the same
/// dataDir or dataLogDir open, and every seq reported on `synced` is durable on disk.
pub struct Storage {
    tx: Option<mpsc::Sender<(PersistSeq, DurableWrite)>>,
    snap_tx: mpsc::Sender<writer::SnapshotJob>,
    log_thread: Option<JoinHandle<()>>,
    snap_thread: Option<JoinHandle<()>>,
    _locks: Vec<DirLock>,
}

impl Storage {
    /// Opens the store with default options, recovering snapshot and log for `Node::recover`.
    pub fn open(
        data_dir: &Path,
        data_log_dir: &Path,
        synced: UnboundedSender<PersistSeq>,
    ) -> Result<(Storage, Recovered), StorageError> {
        Storage::open_with(data_dir, data_log_dir, synced, StorageOptions::default())
    }

    /// Opens the store with `options`.
    pub fn open_with(
        data_dir: &Path,
        data_log_dir: &Path,
        synced: UnboundedSender<PersistSeq>,
        options: StorageOptions,
    ) -> Result<(Storage, Recovered), StorageError> {
        let (storage, found) = Storage::start(data_dir, data_log_dir, synced, options, &mut |b| {
            decode_snapshot(b).map(|s| (s.zxid, s))
        })?;
        Ok((storage, Recovered { snapshot: found.snapshot, log: found.log, epochs: found.epochs }))
    }

    /// Opens the store without decoding the snapshot's tree (tools, and tests that run
    /// without a tree codec). Fallback between snapshots then judges framing and checksum.
    pub fn open_images(
        data_dir: &Path,
        data_log_dir: &Path,
        synced: UnboundedSender<PersistSeq>,
        options: StorageOptions,
    ) -> Result<(Storage, RecoveredImages), StorageError> {
        let (storage, found) = Storage::start(data_dir, data_log_dir, synced, options, &mut |b| {
            decode_snapshot_image(b).map(|i| {
                let owned = SnapshotImageOwned {
                    zxid: i.zxid,
                    sessions: i.sessions,
                    tree_bytes: i.tree_bytes.to_vec(),
                };
                (i.zxid, owned)
            })
        })?;
        Ok((storage, RecoveredImages { snapshot: found.snapshot, log: found.log }))
    }

    /// Queues a write; `seq`s must increase. Never blocks (the node bounds what is in
    /// flight). The writer reports completion on the `synced` channel.
    pub fn persist(&self, seq: PersistSeq, write: DurableWrite) {
        let tx = self.tx.as_ref().expect("the sender lives until close");
        // The writer stops early only after reporting a full disk; what comes after that
        // is never written nor reported durable (the owner rebuilds its node).
        if tx.send((seq, write)).is_err() {
            tracing::debug!("log writer stopped (disk full); persist seq={seq} dropped");
        }
    }

    /// Asks the snapshot thread to purge, keeping `keep_snapshots` (>= 3). It runs after any
    /// snapshot already queued, so it sees every snapshot that is whole on disk.
    pub fn purge(&self, keep_snapshots: usize) -> Result<(), StorageError> {
        if keep_snapshots < MIN_KEEP_SNAPSHOTS {
            return Err(StorageError::BadPurgeCount { keep_snapshots });
        }
        let _ = self.snap_tx.send(writer::SnapshotJob::Purge { keep_snapshots });
        Ok(())
    }

    /// Finishes every queued write and snapshot, then stops the threads and drops the lock.
    pub fn close(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        // Dropping the log sender ends the log writer, which drops its snapshot sender; ours
        // goes with `self`, so join the log thread first, then let the snapshot thread drain.
        self.tx = None;
        if let Some(t) = self.log_thread.take() {
            let _ = t.join();
        }
        let (dead_tx, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.snap_tx, dead_tx));
        if let Some(t) = self.snap_thread.take() {
            let _ = t.join();
        }
    }

    fn start<T>(
        data_dir: &Path,
        data_log_dir: &Path,
        synced: UnboundedSender<PersistSeq>,
        options: StorageOptions,
        decode: &mut recover::SnapshotDecoder<'_, T>,
    ) -> Result<(Storage, recover::Found<T>), StorageError> {
        let snap_dir = files::version_dir(data_dir)?;
        let log_dir = files::version_dir(data_log_dir)?;
        let mut locks = vec![lock_dir(data_dir)?];
        let same = data_dir.canonicalize().ok() == data_log_dir.canonicalize().ok();
        if !same {
            locks.push(lock_dir(data_log_dir)?);
        }
        let found = recover::recover(&snap_dir, &log_dir, decode)?;
        if found.epochs != Default::default() {
            tracing::info!(
                accepted = ?found.epochs.accepted,
                current = ?found.epochs.current,
                "recovered epochs"
            );
        }
        tracing::info!(
            "recovered {} log records after snapshot; last zxid on disk {}",
            found.log.len(),
            found.last_zxid
        );
        if let Some(zxid) = found.snapshot_zxid {
            let written = std::fs::metadata(snap_dir.join(snapshot_name(zxid)))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            let written_epoch_secs = written.map(|d| d.as_secs()).unwrap_or(0);
            options.stats.set_last_snapshot(SnapshotInfo { zxid, written_epoch_secs });
        }
        // Storage threads log under the server's span (its id), like the tasks do.
        let span = tracing::Span::current();
        let (snap_tx, snap_rx) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        let mut log_writer = writer::LogWriter::new(
            log_dir.clone(),
            snap_dir.clone(),
            options.prealloc_bytes,
            found.last_zxid,
            synced,
            snap_tx.clone(),
            options.stats.clone(),
        );
        log_writer.on_full = options.on_full.clone();
        let spawn_err = |e| StorageError::io("start thread for", data_dir, e);
        let log_thread = std::thread::Builder::new()
            .name("keeper-log".into())
            .spawn({
                let span = span.clone();
                move || {
                    let _span = span.enter();
                    let _guard = AbortOnPanic("log writer");
                    log_writer.run(rx)
                }
            })
            .map_err(spawn_err)?;
        let keep = options.auto_purge_keep;
        let stats = options.stats.clone();
        let snap_thread = std::thread::Builder::new()
            .name("keeper-snapshot".into())
            .spawn(move || {
                let _span = span.enter();
                let _guard = AbortOnPanic("snapshot writer");
                writer::run_snapshots(snap_rx, snap_dir, log_dir, keep, &stats)
            })
            .map_err(spawn_err)?;
        let storage = Storage {
            tx: Some(tx),
            snap_tx,
            log_thread: Some(log_thread),
            snap_thread: Some(snap_thread),
            _locks: locks,
        };
        Ok((storage, found))
    }
}

/// A storage thread that panics has broken an invariant (seqs or zxids out of order): the
/// node would wait forever for a `Persisted` that cannot come, so end the process instead.
struct AbortOnPanic(&'static str);

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!("the {} thread panicked; aborting", self.0);
            std::process::abort();
        }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Checks that `dir` has room for `bytes` more: writes that many bytes to a probe file,
/// syncs and removes it. A server whose log writer stopped on a full disk probes its log
/// directory until this succeeds, then takes writes again.
pub fn probe_space(dir: &Path, bytes: usize) -> io::Result<()> {
    use std::io::Write;
    let path =
        files::version_dir(dir).map_err(|e| io::Error::other(e.to_string()))?.join(".space-probe");
    let written = (|| {
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&path)?;
        let block = vec![0u8; 64 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(block.len());
            f.write_all(&block[..n])?;
            left -= n;
        }
        f.sync_all()
    })();
    let removed = std::fs::remove_file(&path);
    written?;
    removed
}

/// Purges a store that is not open (like ZooKeeper's `PurgeTxnLog` tool): takes the locks,
/// so it refuses to run beside a live server.
pub fn purge(
    data_dir: &Path,
    data_log_dir: &Path,
    keep_snapshots: usize,
) -> Result<PurgeReport, StorageError> {
    let snap_dir = files::version_dir(data_dir)?;
    let log_dir = files::version_dir(data_log_dir)?;
    let _lock = lock_dir(data_dir)?;
    let _log_lock = if data_dir.canonicalize().ok() != data_log_dir.canonicalize().ok() {
        Some(lock_dir(data_log_dir)?)
    } else {
        None
    };
    purge_dirs(&snap_dir, &log_dir, keep_snapshots)
}
