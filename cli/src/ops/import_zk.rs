//! `keeper import-zk`: a keeper dataDir from Apache ZooKeeper's own dataDir.
//!
//! Reads `version-2/snapshot.<zxid>` and `version-2/log.<zxid>` as ZooKeeper 3.5-3.9 write
//! them (`keeper_core::zkfiles`), rebuilds the state as ZooKeeper itself would on start
//! (`keeper_core::zkimport`: the newest snapshot, then every logged txn after it), and
//! writes it as one keeper snapshot in the new dataDir. ZooKeeper's `myid` is copied.
//!
//! Refusals, each naming the file (and offset): a non-empty target; a compressed or
//! unknown-version file; a log entry that is damaged with data after it (a damaged entry
//! followed only by zeros is a torn tail, cut off as ZooKeeper does); a hole in the zxids.
//! A newest snapshot that cannot be read is skipped for an older one (as ZooKeeper does)
//! only when the logs then reach at least that newer snapshot's zxid, so nothing is lost.
//! Invariant: the target is written only after the whole import succeeded, and the file
//! written is read back and compared before the command reports success.

use std::fs;
use std::path::{Path, PathBuf};

use keeper_core::ids::Zxid;
use keeper_core::persist::decode_snapshot;
use keeper_core::zkfiles::{parse_log, parse_snapshot};
use keeper_core::zkimport::{ZkImport, ZkImporter};
use keeper_net::storage::{check_empty, install_snapshot, VERSION_DIR};

/// A file ZooKeeper names `<prefix>.<hex zxid>[.<suffix>]`.
struct ZkFile {
    zxid: Zxid,
    path: PathBuf,
    /// A compression suffix (`gz`, `snappy`) or anything else after the zxid.
    suffix: Option<String>,
}

/// Imports `zk_data_dir` (and `zk_log_dir`) into the new `data_dir` (and `data_log_dir`).
pub fn run(
    zk_data_dir: &Path,
    zk_log_dir: Option<&Path>,
    data_dir: &Path,
    data_log_dir: Option<&Path>,
) -> Result<(), String> {
    let log_target = data_log_dir.unwrap_or(data_dir);
    check_empty(data_dir).map_err(|e| e.to_string())?;
    check_empty(log_target).map_err(|e| e.to_string())?;
    let snap_dir = version_dir(zk_data_dir)?;
    let log_dir = match zk_log_dir {
        Some(d) => version_dir(d)?,
        None => snap_dir.clone(),
    };
    let snaps = list(&snap_dir, "snapshot")?;
    let logs = list(&log_dir, "log")?;
    if let Some(f) = logs.iter().find(|f| f.suffix.is_some()) {
        return Err(format!("{}: unexpected log file name", f.path.display()));
    }
    if snaps.is_empty() && logs.is_empty() {
        return Err(format!("{} holds no ZooKeeper snapshot or log file", snap_dir.display()));
    }
    let imported = import(&snaps, &logs)?;
    let image = imported.encode();
    let path =
        install_snapshot(data_dir, log_target, imported.zxid, &image).map_err(|e| e.to_string())?;
    verify(&path, &imported)?;
    let myid = zk_data_dir.join("myid");
    if myid.is_file() && !data_dir.join("myid").exists() {
        fs::copy(&myid, data_dir.join("myid"))
            .map_err(|e| format!("cannot copy {}: {e}", myid.display()))?;
        println!("copied {}", myid.display());
    }
    println!(
        "imported {}: snapshot at {} + {} log txns -> last zxid {}, {} znodes, {} sessions{}",
        zk_data_dir.display(),
        imported.snapshot_zxid,
        imported.replayed,
        imported.zxid,
        imported.tree.node_count(),
        imported.sessions.len(),
        match imported.orphan_ephemerals_removed {
            0 => String::new(),
            n => format!(", {n} ephemerals of ended sessions dropped"),
        }
    );
    println!("wrote {}", path.display());
    Ok(())
}

/// Tries snapshots newest first, then no snapshot at all (logs from the first txn); see
/// the module doc for when an older start may be used.
fn import(snaps: &[ZkFile], logs: &[ZkFile]) -> Result<ZkImport, String> {
    let mut skipped: Option<(Zxid, String)> = None;
    for snap in snaps.iter().rev().map(Some).chain([None]) {
        let start = match snap.map(open_snapshot) {
            None => ZkImporter::empty(),
            Some(Ok(start)) => start,
            Some(Err(why)) => {
                eprintln!("warning: {why}; trying an older snapshot");
                skipped.get_or_insert((snap.map_or(Zxid::ZERO, |s| s.zxid), why));
                continue;
            }
        };
        let done = replay(start, logs).map_err(|e| match &skipped {
            Some((_, why)) => format!("{why}; starting from an older one fails too: {e}"),
            None => e,
        })?;
        if let Some((zxid, why)) = &skipped {
            if done.zxid < *zxid {
                return Err(format!(
                    "{why}; the logs reach only {} (below its zxid {zxid}): importing from an \
                     older start would lose writes",
                    done.zxid
                ));
            }
        }
        return Ok(done);
    }
    unreachable!("the last start (no snapshot) always returns")
}

fn open_snapshot(snap: &ZkFile) -> Result<ZkImporter, String> {
    let name = snap.path.display();
    if let Some(suffix) = &snap.suffix {
        return Err(format!(
            "{name} is a compressed ({suffix}) snapshot, which import-zk does not read; \
             decompress it to {} first",
            snap.path.with_extension("").display()
        ));
    }
    let bytes = fs::read(&snap.path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let parsed = parse_snapshot(&bytes).map_err(|e| format!("{name}: {e}"))?;
    ZkImporter::from_snapshot(snap.zxid, &parsed).map_err(|e| format!("{name}: {e}"))
}

/// Replays the log files that can hold txns above the start, in order.
fn replay(mut importer: ZkImporter, logs: &[ZkFile]) -> Result<ZkImport, String> {
    let from = importer.last_zxid();
    for (i, log) in logs.iter().enumerate() {
        // A file whose successor starts at or below the start holds nothing newer.
        if logs.get(i + 1).is_some_and(|next| next.zxid.0 <= from.0 + 1) {
            continue;
        }
        let name = log.path.display();
        let bytes = fs::read(&log.path).map_err(|e| format!("cannot read {name}: {e}"))?;
        let parsed = parse_log(&bytes).map_err(|e| format!("{name}: {e}"))?;
        for (rec, offset) in parsed.records.iter().zip(&parsed.record_offsets) {
            importer.replay(rec).map_err(|e| {
                format!("{name}: entry at offset {offset} (zxid {}): {e}", rec.header.zxid)
            })?;
        }
        if let Some(at) = parsed.torn_at {
            if !parsed.tail_is_zeros {
                return Err(format!(
                    "{name} is corrupt at offset {at}: a damaged entry with data after it"
                ));
            }
            eprintln!(
                "warning: {name} ends in an unfinished entry at offset {at} (a write cut short \
                 by a crash, never acknowledged); ignoring it as ZooKeeper does"
            );
        }
    }
    Ok(importer.finish())
}

/// Reads the written snapshot back as the server will, and compares it with the import.
fn verify(path: &Path, imported: &ZkImport) -> Result<(), String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read back {}: {e}", path.display()))?;
    let state = decode_snapshot(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if state.zxid != imported.zxid
        || state.tree.digest() != imported.tree.digest()
        || state.sessions != imported.sessions
    {
        return Err(format!("{} does not read back as written", path.display()));
    }
    Ok(())
}

/// `dir/version-2`, or `dir` itself when it is a version-2 directory.
fn version_dir(dir: &Path) -> Result<PathBuf, String> {
    let v = dir.join(VERSION_DIR);
    if v.is_dir() {
        return Ok(v);
    }
    if dir.file_name().is_some_and(|n| n == VERSION_DIR) && dir.is_dir() {
        return Ok(dir.to_path_buf());
    }
    Err(format!(
        "{} holds no {VERSION_DIR}/ directory: give ZooKeeper's dataDir (or dataLogDir)",
        dir.display()
    ))
}

/// Files named `<prefix>.<hex>[.<suffix>]` in `dir`, by zxid.
fn list(dir: &Path, prefix: &str) -> Result<Vec<ZkFile>, String> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)?.strip_prefix('.'))
        else {
            continue;
        };
        let (hex, suffix) = match rest.split_once('.') {
            Some((h, s)) => (h, Some(s.to_string())),
            None => (rest, None),
        };
        if let Ok(z) = u64::from_str_radix(hex, 16) {
            out.push(ZkFile { zxid: Zxid(z), path: entry.path(), suffix });
        }
    }
    out.sort_by_key(|f| f.zxid);
    Ok(out)
}
