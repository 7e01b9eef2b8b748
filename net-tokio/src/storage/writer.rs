//! The two storage threads: the log writer (group commit) and the snapshot writer.
//!
//! **Log writer.** Takes `(PersistSeq, DurableWrite)` in seq order from a channel; each
//! round it takes everything already queued (up to [`MAX_BATCH_BYTES`]), appends the records to
//! the current log file with one write, makes them durable with one fsync, and only then
//! reports the highest seq of the round on the `synced` channel (group commit: one fsync
//! answers many writes, and `Persisted` is cumulative).
//!
//! Sync order, so that nothing reported durable can vanish in a crash:
//! 1. the log file's data (fdatasync; a full fsync when the file was created or grown,
//!    since its size is metadata the records depend on);
//! 2. the log directory, when a file was created in this round (its name is metadata too);
//! 3. only then the `synced` report that lets the node promise anything.
//!
//! Log files are preallocated in [`PREALLOC_BYTES`] blocks with `set_len` (zeros), so most
//! rounds change no metadata and fdatasync stays cheap; the scanner reads the zeros as
//! "no more records".
//!
//! **Snapshot writer.** A `Snapshot` write hands its already-encoded image to a separate
//! thread (so a big snapshot never delays log fsyncs), which writes `snapshot.<zxid>.tmp`,
//! fsyncs it, renames it into place and fsyncs the directory. The log writer meanwhile
//! rolls: the next append starts a new log file, so older files can later be purged whole.
//! The snapshot's seq is reported durable with the round it arrived in, without waiting for
//! the snapshot file: every record the snapshot summarises is already in the log (it came
//! earlier in seq order, so it is synced in this round or before), and a snapshot is only an
//! optimisation of recovery. For the same reason purge only ever counts snapshot files that
//! exist on disk, and runs on the snapshot thread after the directory fsync, so it never
//! removes a log that an unfinished snapshot was meant to replace.
//!
//! **Replicated writes.** `AcceptedEpoch`/`CurrentEpoch` flush the round so far and then
//! replace their file atomically (see `replicated`). `Truncate { to }` flushes, rolls, waits
//! for the snapshot thread (a learner's SNAP install writes its snapshot just before it, and
//! that snapshot is not in the log, so it must be on disk before the seq is reported), then
//! cuts the log and drops snapshots above `to`.
//!
//! **Failures are fatal, except a full disk.** A failed fsync, or a failed write for any
//! reason but lack of space, aborts the process, as etcd does: after a failed fsync the
//! kernel may have dropped the dirty pages and cleared the error (the 2018 "fsyncgate"
//! finding), so a retry could report success for data that is gone. Restarting recovers
//! from what is really on disk. A failed snapshot is not fatal: the log still holds
//! everything, so the thread logs it, removes the temporary file and goes on.
//!
//! **A full disk** (ENOSPC, EFBIG from a file size limit, EDQUOT) when creating, growing or
//! writing a log file is not fatal when the owner asked to hear about it
//! (`StorageOptions::on_full`): write(2) and ftruncate(2) fail before anything reaches the
//! page cache, so nothing reported durable is at stake. The writer cuts the file back to
//! its last synced byte (or removes it, when it was created in the failed round), reports
//! [`StorageFull`] and stops: the round's writes, and every later one, are neither written
//! nor reported durable. The owner then rebuilds its node from the disk (see
//! `crate::disk_full`). A failure to cut back is fatal (the file's tail is unknown).

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use keeper_core::ids::{PersistSeq, Zxid};
use keeper_core::output::DurableWrite;
use keeper_core::persist::log::{append_log_record, encode_log_header};
use tokio::sync::mpsc::UnboundedSender;

use super::files::{log_name, replace_file, snapshot_name, sync_dir};
use super::purge::purge_dirs;
use super::replicated::{
    remove_snapshots_above, truncate_logs, write_epoch, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE,
};
use crate::stats::ShellStats;

/// Log files grow in blocks of this many bytes (64 MiB, ZooKeeper's preAllocSize default).
pub const PREALLOC_BYTES: u64 = 64 * 1024 * 1024;
/// A round stops taking writes once this many encoded bytes wait for its fsync; bounds the
/// memory one round holds (a record is at most about jute.maxbuffer, 1 MiB).
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// A log write the disk refused for lack of space; the writer has stopped (module doc).
#[derive(Debug)]
pub struct StorageFull {
    /// What failed: `create`, `preallocate` or `write`.
    pub what: &'static str,
    pub path: PathBuf,
    pub error: io::Error,
}

impl std::fmt::Display for StorageFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot {} {}: {}", self.what, self.path.display(), self.error)
    }
}

/// True for the errors that mean "no room": ENOSPC, EFBIG (RLIMIT_FSIZE or the file
/// system's maximum), EDQUOT.
pub fn is_out_of_space(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::FileTooLarge | io::ErrorKind::QuotaExceeded
    )
}

/// What the snapshot thread is asked to do.
pub(crate) enum SnapshotJob {
    Write {
        zxid: Zxid,
        image: Bytes,
    },
    Purge {
        keep_snapshots: usize,
    },
    /// Answer once every job before this is done, with the zxids of the snapshots that
    /// failed since the last barrier.
    Barrier(Sender<Vec<Zxid>>),
}

/// The bytes of one group commit not yet written to the current file.
#[derive(Default)]
struct Round {
    pending: Vec<u8>,
    /// The current file was created in this round: sync it fully, and its directory.
    created: bool,
}

/// The log file being appended to.
struct Current {
    file: File,
    path: PathBuf,
    /// Bytes of header and records written.
    written: u64,
    /// The file's length (preallocated zeros included).
    allocated: u64,
}

/// The log writer's state, owned by its thread.
pub(crate) struct LogWriter {
    pub log_dir: PathBuf,
    /// `dataDir/version-2`: snapshots and the epoch files.
    pub snap_dir: PathBuf,
    pub prealloc_bytes: u64,
    /// Highest zxid on disk; every append must be above it.
    pub last_zxid: Zxid,
    pub last_seq: PersistSeq,
    pub synced: UnboundedSender<PersistSeq>,
    pub snapshots: Sender<SnapshotJob>,
    current: Option<Current>,
    /// fsync durations go here (ZooKeeper's `fsynctime`).
    stats: Arc<ShellStats>,
    /// Where a full disk is reported; `None`: a full disk is fatal like any write error.
    pub on_full: Option<UnboundedSender<StorageFull>>,
}

impl LogWriter {
    pub fn new(
        log_dir: PathBuf,
        snap_dir: PathBuf,
        prealloc_bytes: u64,
        last_zxid: Zxid,
        synced: UnboundedSender<PersistSeq>,
        snapshots: Sender<SnapshotJob>,
        stats: Arc<ShellStats>,
    ) -> LogWriter {
        assert!(prealloc_bytes > 0);
        LogWriter {
            log_dir,
            snap_dir,
            prealloc_bytes,
            last_zxid,
            last_seq: PersistSeq(0),
            synced,
            snapshots,
            current: None,
            stats,
            on_full: None,
        }
    }

    /// Runs until every sender of `rx` is dropped, then returns after the last round.
    pub fn run(mut self, rx: Receiver<(PersistSeq, DurableWrite)>) {
        // One buffer for every round: records are encoded straight into it, and it keeps
        // its capacity, so a steady load allocates nothing per round.
        let mut round = Round { pending: Vec::with_capacity(64 * 1024), created: false };
        while let Ok(first) = rx.recv() {
            // One group commit: take what is queued, write it, sync once, report.
            assert!(round.pending.is_empty() && !round.created, "the last round was flushed");
            let done = self.take(first, &mut round).and_then(|()| {
                while round.pending.len() < MAX_BATCH_BYTES {
                    match rx.try_recv() {
                        Ok(w) => self.take(w, &mut round)?,
                        Err(_) => break,
                    }
                }
                self.flush(&mut round)
            });
            if let Err(full) = done {
                tracing::error!(
                    "disk full: {full}; log writer stops, no write of this round is durable"
                );
                if let Some(tx) = &self.on_full {
                    let _ = tx.send(full);
                }
                return;
            }
            // The node may have gone away during shutdown; nothing left to tell it then.
            let _ = self.synced.send(self.last_seq);
        }
        if let Some(cur) = &self.current {
            tracing::debug!("log writer stops; last file {}", cur.path.display());
        }
    }

    /// Adds one write to the round.
    fn take(
        &mut self,
        (seq, write): (PersistSeq, DurableWrite),
        round: &mut Round,
    ) -> Result<(), StorageFull> {
        assert!(seq > self.last_seq, "persist seqs must increase: {seq} after {}", self.last_seq);
        self.last_seq = seq;
        match write {
            DurableWrite::Append(rec) => {
                let zxid = rec.header.zxid;
                if zxid <= self.last_zxid {
                    let why = format!("zxid {zxid} is not above {}", self.last_zxid);
                    fatal("append", &self.log_dir, &why);
                }
                if self.current.is_none() {
                    self.current = Some(self.create(zxid)?);
                    round.pending.extend_from_slice(&encode_log_header(zxid));
                    round.created = true;
                }
                append_log_record(&mut round.pending, &rec);
                self.last_zxid = zxid;
            }
            DurableWrite::Snapshot { zxid, image } => {
                // Roll: what was written so far stays in the old file, synced now, and the
                // next append starts a new one.
                self.flush(round)?;
                self.current = None;
                // Records at or below a snapshot are skipped on recovery, so an append that
                // is not above it would be lost: hold later appends to the same rule.
                self.last_zxid = self.last_zxid.max(zxid);
                let _ = self.snapshots.send(SnapshotJob::Write { zxid, image });
            }
            DurableWrite::Truncate { to } => {
                self.flush(round)?;
                self.current = None;
                self.truncate(to);
            }
            DurableWrite::AcceptedEpoch(e) => self.epoch(round, ACCEPTED_EPOCH_FILE, e)?,
            DurableWrite::CurrentEpoch(e) => self.epoch(round, CURRENT_EPOCH_FILE, e)?,
        }
        Ok(())
    }

    /// Records an epoch file after everything before it in seq order is written.
    fn epoch(&mut self, round: &mut Round, name: &str, value: u32) -> Result<(), StorageFull> {
        self.flush(round)?;
        let started = Instant::now();
        write_epoch(&self.snap_dir, name, value)
            .unwrap_or_else(|e| fatal("write", &self.snap_dir.join(name), &e.to_string()));
        self.stats.record_fsync(started.elapsed());
        tracing::info!("{name} is now {value} ({} ms)", started.elapsed().as_millis());
        Ok(())
    }

    /// Drops the history above `to`. The snapshot a learner installs comes just before its
    /// truncation and is not in the log, so it must be on disk first: wait for the
    /// snapshot thread, and treat its failure as a failed write.
    fn truncate(&mut self, to: Zxid) {
        let (tx, rx) = std::sync::mpsc::channel();
        let failed = match self.snapshots.send(SnapshotJob::Barrier(tx)) {
            Ok(()) => rx.recv().unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        if failed.contains(&to) {
            fatal("install snapshot", &self.snap_dir.join(snapshot_name(to)), "write failed");
        }
        truncate_logs(&self.log_dir, to)
            .and_then(|()| remove_snapshots_above(&self.snap_dir, to))
            .unwrap_or_else(|e| fatal("truncate", &self.log_dir, &e.to_string()));
        tracing::info!("history truncated to {to}");
        self.last_zxid = to;
    }

    fn create(&self, zxid: Zxid) -> Result<Current, StorageFull> {
        let path = self.log_dir.join(log_name(zxid));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => Ok(Current { file, path, written: 0, allocated: 0 }),
            Err(error) if is_out_of_space(&error) && self.on_full.is_some() => {
                Err(StorageFull { what: "create", path, error })
            }
            Err(e) => fatal("create", &path, &e.to_string()),
        }
    }

    /// Writes `pending` to the current file and makes it durable (sync order in module doc).
    fn flush(&mut self, round: &mut Round) -> Result<(), StorageFull> {
        let Round { pending, created } = round;
        let created = std::mem::take(created);
        let Some(cur) = self.current.as_mut() else {
            assert!(pending.is_empty());
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        let end = cur.written + pending.len() as u64;
        let grown = end > cur.allocated;
        if grown {
            let blocks = end.div_ceil(self.prealloc_bytes);
            cur.allocated = blocks * self.prealloc_bytes;
            if let Err(e) = cur.file.set_len(cur.allocated) {
                return Err(self.cut_back("preallocate", e, created, pending));
            }
        }
        let wrote =
            cur.file.seek(SeekFrom::Start(cur.written)).and_then(|_| cur.file.write_all(pending));
        if let Err(e) = wrote {
            return Err(self.cut_back("write", e, created, pending));
        }
        let started = Instant::now();
        let synced = if grown || created { cur.file.sync_all() } else { cur.file.sync_data() };
        synced.unwrap_or_else(|e| fatal("fsync", &cur.path, &e.to_string()));
        self.stats.record_fsync(started.elapsed());
        if created {
            sync_dir(&self.log_dir)
                .unwrap_or_else(|e| fatal("fsync", &self.log_dir, &e.to_string()));
        }
        cur.written = end;
        pending.clear();
        Ok(())
    }

    /// A write to the current file failed: fatal unless it is a full disk the owner hears
    /// about; then the file loses everything after its last synced byte (removed whole when
    /// this round created it) and the writer has no current file.
    fn cut_back(
        &mut self,
        what: &'static str,
        error: io::Error,
        created: bool,
        pending: &mut Vec<u8>,
    ) -> StorageFull {
        let cur = self.current.take().expect("a write failed on the current file");
        if !is_out_of_space(&error) || self.on_full.is_none() {
            fatal(what, &cur.path, &error.to_string());
        }
        pending.clear();
        let cut = if created {
            drop(cur.file);
            std::fs::remove_file(&cur.path).and_then(|()| sync_dir(&self.log_dir))
        } else {
            cur.file.set_len(cur.written).and_then(|()| cur.file.sync_all())
        };
        if let Err(e) = cut {
            let why = format!("{error}, then could not cut it back to {} bytes: {e}", cur.written);
            fatal(what, &cur.path, &why);
        }
        StorageFull { what, path: cur.path, error }
    }
}

/// Runs the snapshot thread until the log writer drops its sender.
pub(crate) fn run_snapshots(
    rx: Receiver<SnapshotJob>,
    snap_dir: PathBuf,
    log_dir: PathBuf,
    auto_purge_keep: Option<usize>,
    stats: &ShellStats,
) {
    let mut failed = Vec::new();
    while let Ok(job) = rx.recv() {
        let keep = match job {
            SnapshotJob::Barrier(reply) => {
                let _ = reply.send(std::mem::take(&mut failed));
                continue;
            }
            SnapshotJob::Write { zxid, image } => {
                let started = Instant::now();
                if let Err(e) = write_snapshot(&snap_dir, zxid, &image) {
                    tracing::error!("snapshot {zxid} not written (the log still holds it): {e}");
                    failed.push(zxid);
                    continue;
                }
                let took = started.elapsed();
                stats.record_snapshot(zxid, took);
                tracing::info!(
                    "snapshot {zxid} written ({} bytes, {} ms)",
                    image.len(),
                    took.as_millis()
                );
                match auto_purge_keep {
                    Some(k) => k,
                    None => continue,
                }
            }
            SnapshotJob::Purge { keep_snapshots } => keep_snapshots,
        };
        if let Err(e) = purge_dirs(&snap_dir, &log_dir, keep) {
            tracing::error!("purge failed: {e}");
        }
    }
}

/// tmp file, fsync, rename, fsync dir: a crash leaves either no snapshot or a whole one.
pub(crate) fn write_snapshot(snap_dir: &Path, zxid: Zxid, image: &[u8]) -> std::io::Result<()> {
    replace_file(&snap_dir.join(snapshot_name(zxid)), image)
}

/// Ends the process after a storage failure (why: see the module doc).
fn fatal(what: &str, path: &Path, err: &str) -> ! {
    tracing::error!("fatal storage error: {what} {}: {err}; aborting", path.display());
    eprintln!("keeper: fatal storage error: {what} {}: {err}; aborting", path.display());
    std::process::abort()
}
