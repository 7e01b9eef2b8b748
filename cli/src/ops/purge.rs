//! `keeper purge`: ZooKeeper's `zkCleanup.sh` / `PurgeTxnLog` for a keeper dataDir, through
//! the same purge rule the server's autopurge uses (`keeper_net::storage::purge`): keep the
//! newest N snapshots and every log a replay from the oldest of them needs.

use std::path::Path;

use keeper_net::storage::{self, VERSION_DIR};

/// Purges `data_dir` (and `data_log_dir`, when separate), keeping `count` snapshots.
pub fn run(data_dir: &Path, data_log_dir: Option<&Path>, count: usize) -> Result<(), String> {
    let log_dir = data_log_dir.unwrap_or(data_dir);
    for dir in [data_dir, log_dir] {
        if !dir.join(VERSION_DIR).is_dir() {
            return Err(format!(
                "{} holds no {VERSION_DIR}/ directory: not a keeper dataDir",
                dir.display()
            ));
        }
    }
    let report = storage::purge(data_dir, log_dir, count).map_err(|e| e.to_string())?;
    for p in report.removed_snapshots.iter().chain(&report.removed_logs) {
        println!("removed {}", p.display());
    }
    println!(
        "purged {} snapshot(s) and {} log(s), keeping the newest {count} snapshot(s)",
        report.removed_snapshots.len(),
        report.removed_logs.len()
    );
    Ok(())
}
