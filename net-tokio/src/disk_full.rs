//! A full disk on a running server: refuse writes, keep serving reads, recover by itself.
//!
//! When the log writer cannot write for lack of space it cuts the log back to its last
//! synced byte, stops, and reports [`StorageFull`] (see `storage::writer`). The node has by
//! then applied in memory the writes whose records failed, and holds back every reply that
//! depends on them; none of that may ever be shown to a client. So the node task:
//!
//! 1. closes every client connection (their held replies die with the old node; clients
//!    see a connection loss and reconnect to their sessions, as after a restart);
//! 2. closes the old store, reopens it and recovers from what is durable on disk, exactly
//!    as at start-up (the failed writes are not there: never applied, never acknowledged);
//! 3. builds a new node from that and tells it `Input::DiskFull { full: true }`: writes are
//!    answered NOTREADONLY, new sessions refused, reads, watches and existing sessions go on
//!    (core `node::disk_full`);
//! 4. probes the log directory every [`PROBE_EVERY`] with a [`PROBE_BYTES`] file, and once
//!    that succeeds tells the node `DiskFull { full: false }`: writes resume.
//!
//! Invariant: between a fault and the rebuilt node, no input reaches any node, and no
//! output of the old node leaves after the fault.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keeper_core::config::Config;
use keeper_core::zoocfg::ZooCfg;
use keeper_core::Node;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn, Instrument};

use crate::server::StorageLink;
use crate::stats::ShellStats;
use crate::storage::{probe_space, StorageFull};

/// How often a full log directory is probed for room.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);
/// Room a probe asks for: one record of the default `jute.maxbuffer`, and a margin.
pub const PROBE_BYTES: usize = 2 * 1024 * 1024;

/// The node task's view of its store's disk-full handling: the writer's fault report, what
/// it takes to reopen the store, and (while full) the probe waiting for room.
pub struct FullWatch {
    pub(crate) faults: mpsc::UnboundedReceiver<StorageFull>,
    /// Fires once the old store is closed (its threads joined, its lock released).
    pub(crate) closed: oneshot::Receiver<()>,
    pub(crate) cfg: Arc<ZooCfg>,
    pub(crate) stats: Arc<ShellStats>,
    /// Set while the disk is full: fires when a probe found room.
    pub(crate) space_back: Option<oneshot::Receiver<()>>,
}

/// What the disk-full side of the node task has to say.
pub enum Event {
    /// The log writer stopped on a full disk.
    Full(StorageFull),
    /// A probe found room again.
    SpaceBack,
}

/// Waits for the next disk-full event; never resolves for a store without a watch.
pub async fn next(full: &mut Option<FullWatch>) -> Event {
    let Some(w) = full.as_mut() else { return std::future::pending().await };
    tokio::select! {
        Some(fault) = w.faults.recv() => Event::Full(fault),
        Ok(()) = async { w.space_back.as_mut().expect("guarded").await }, if w.space_back.is_some() => {
            w.space_back = None;
            Event::SpaceBack
        }
        else => std::future::pending().await,
    }
}

/// Replaces the store and the node after a fault (steps 2 and 3 of the module doc; the
/// caller has closed the connections). Ends the process when the store cannot be reopened:
/// nothing else could serve safely then.
pub async fn rebuild(storage: &mut StorageLink, config: &Config, fault: StorageFull) -> Node {
    warn!(
        "disk full ({fault}): closing client connections and reloading from disk; \
         writes are refused (NOTREADONLY) until there is room"
    );
    let watch = storage.full.take().expect("a fault comes from a watched store");
    // Dropping the old link ends its forward task, which closes the old store.
    let (dead_tx, _) = mpsc::unbounded_channel();
    let (_, dead_rx) = mpsc::unbounded_channel();
    drop(std::mem::replace(
        storage,
        StorageLink { persist: dead_tx, persisted: dead_rx, full: None },
    ));
    let _ = watch.closed.await;
    let (mut link, recovered) = match crate::startup::open_storage(&watch.cfg, watch.stats.clone())
    {
        Ok(opened) => opened,
        Err(e) => {
            error!("after a full disk the store cannot be reopened: {e}; exiting");
            eprintln!("keeper: after a full disk the store cannot be reopened: {e}");
            std::process::exit(1);
        }
    };
    let log_dir = PathBuf::from(&watch.cfg.data_log_dir);
    if let Some(w) = link.full.as_mut() {
        w.space_back = Some(spawn_probe(log_dir));
    }
    *storage = link;
    let last =
        recovered.log.last().map(|r| r.header.zxid).or(recovered.snapshot.as_ref().map(|s| s.zxid));
    info!(last_zxid = ?last, "reloaded from disk after a full disk");
    Node::new(config.clone(), recovered, crate::startup::entropy_seed())
}

/// Probes `dir` until it has room; the receiver fires then. Stops when the receiver goes.
fn spawn_probe(dir: PathBuf) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    let probe = async move {
        let mut every = tokio::time::interval(PROBE_EVERY);
        loop {
            every.tick().await;
            if tx.is_closed() {
                return;
            }
            let d = dir.clone();
            match tokio::task::spawn_blocking(move || probe_space(&d, PROBE_BYTES)).await {
                Ok(Ok(())) => {
                    info!("disk has room again; taking writes");
                    let _ = tx.send(());
                    return;
                }
                Ok(Err(e)) => tracing::debug!("disk still full: {e}"),
                Err(_) => return,
            }
        }
    };
    tokio::spawn(probe.in_current_span());
    rx
}
