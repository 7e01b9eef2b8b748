//! Operator commands that work on data directories and files rather than on a running
//! tree: `import-zk`, `inspect`, `purge`, `snapshot` (a backup of a running server) and
//! `restore`. docs/operations.md describes them for operators.
//!
//! Each command either succeeds and says what it did, or changes nothing it was not asked
//! to and exits non-zero with a message naming the file (and offset) at fault.

mod backup;
mod import_zk;
mod inspect;
mod inspect_fmt;
mod purge;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// The data-management subcommands, flattened into `keeper`'s own.
#[derive(Subcommand)]
pub enum Command {
    /// Build a keeper dataDir from Apache ZooKeeper's dataDir (its version-2/ snapshot and
    /// log files): same tree, ACLs, sessions and zxids. Stop ZooKeeper first.
    #[command(name = "import-zk")]
    ImportZk {
        /// ZooKeeper's dataDir (holding version-2/), or its version-2 directory.
        zk_data_dir: PathBuf,
        /// The new keeper dataDir (missing or empty).
        data_dir: PathBuf,
        /// ZooKeeper's dataLogDir, when it is not its dataDir.
        #[arg(long)]
        zk_log_dir: Option<PathBuf>,
        /// keeper's dataLogDir, when it will not be the dataDir.
        #[arg(long)]
        data_log_dir: Option<PathBuf>,
    },
    /// Print a keeper or ZooKeeper log or snapshot file (or a backup) readably.
    Inspect {
        file: PathBuf,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove old snapshots and the logs only they need, keeping the newest N (like
    /// zkCleanup.sh). Refuses while a server holds the dataDir.
    Purge {
        data_dir: PathBuf,
        /// The dataLogDir, when it is not the dataDir.
        data_log_dir: Option<PathBuf>,
        /// Snapshots to keep (at least 3).
        #[arg(short = 'n', long = "count", default_value_t = 3)]
        count: usize,
    },
    /// Save a consistent backup of a running keeper server (its `kbak` word must be in
    /// 4lw.commands.whitelist) to OUT.
    Snapshot {
        /// The server's client address.
        #[arg(long, value_name = "HOST:PORT")]
        server: String,
        out: PathBuf,
        /// Seconds to wait for the whole backup.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Write a backup (from `keeper snapshot`, or any keeper snapshot file) into a new
    /// dataDir that `keeper server` starts from.
    Restore {
        backup: PathBuf,
        /// The new dataDir (missing or empty).
        data_dir: PathBuf,
        /// The dataLogDir, when it will not be the dataDir (missing or empty).
        #[arg(long)]
        data_log_dir: Option<PathBuf>,
    },
}

/// Runs one operator command.
pub fn main(cmd: Command) -> ExitCode {
    let (name, result) = match cmd {
        Command::ImportZk { zk_data_dir, data_dir, zk_log_dir, data_log_dir } => (
            "import-zk",
            import_zk::run(&zk_data_dir, zk_log_dir.as_deref(), &data_dir, data_log_dir.as_deref()),
        ),
        Command::Inspect { file, json } => ("inspect", inspect::run(&file, json)),
        Command::Purge { data_dir, data_log_dir, count } => {
            ("purge", purge::run(&data_dir, data_log_dir.as_deref(), count))
        }
        Command::Snapshot { server, out, timeout } => {
            ("snapshot", backup::snapshot(&server, &out, timeout))
        }
        Command::Restore { backup, data_dir, data_log_dir } => {
            ("restore", backup::restore(&backup, &data_dir, data_log_dir.as_deref()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keeper {name}: {e}");
            ExitCode::FAILURE
        }
    }
}
