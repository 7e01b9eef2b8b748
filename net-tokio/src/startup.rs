//! Server startup: zoo.cfg → myid → storage → Node → bound client port.
//!
//! Invariant: everything that can fail at startup (unreadable or invalid zoo.cfg, bad
//! myid, port in use) returns a [`StartupError`] with a readable message before any client
//! is accepted.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use keeper_core::persist::Recovered;
use keeper_core::zoocfg::{parse_myid, ZooCfg};
use keeper_core::Node;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn, Instrument};

use crate::server::{self, StorageLink};

/// Why the server could not start.
#[derive(Debug)]
pub struct StartupError(pub String);

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

/// Reads and parses zoo.cfg, then reads `dataDir/myid` when the file has server lines.
pub fn load_config(path: &Path) -> Result<ZooCfg, StartupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StartupError(format!("cannot read {}: {e}", path.display())))?;
    let mut cfg = ZooCfg::parse(&text).map_err(|e| StartupError(e.to_string()))?;
    if !cfg.servers.is_empty() {
        let myid_path = Path::new(&cfg.data_dir).join("myid");
        match std::fs::read_to_string(&myid_path) {
            Ok(text) => {
                cfg.config.server_id = parse_myid(&text)
                    .map_err(|e| StartupError(format!("{}: {}", myid_path.display(), e.message)))?
            }
            Err(e) if cfg.is_distributed() => {
                return Err(StartupError(format!("{}: {e}", myid_path.display())))
            }
            Err(_) => {}
        }
    }
    Ok(cfg)
}

/// A seed from OS entropy: std's `RandomState` keys come from the OS once per process.
pub fn entropy_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}

/// Binds `clientPortAddress:clientPort` (all addresses when no address is set).
pub async fn bind_client_port(cfg: &ZooCfg) -> Result<TcpListener, StartupError> {
    let port = cfg.client_port.ok_or_else(|| StartupError("clientPort is not set".into()))?;
    let host = cfg.client_port_address.clone().unwrap_or_else(|| "0.0.0.0".into());
    TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| StartupError(format!("cannot listen on {host}:{port}: {e}")))
}

/// Storage that acknowledges every write at once without writing anything.
///
/// A placeholder until `crate::storage` is merged: it breaks persist-before-promise (nothing
/// survives a restart), so the server logs a warning when it is used.
pub fn volatile_storage() -> StorageLink {
    let (persist_tx, mut persist_rx) = mpsc::unbounded_channel();
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let acker = async move {
        while let Some((seq, _write)) = persist_rx.recv().await {
            if done_tx.send(seq).is_err() {
                return;
            }
        }
    };
    tokio::spawn(acker.in_current_span());
    StorageLink { persist: persist_tx, persisted: done_rx }
}

/// Starts a server from a parsed zoo.cfg on an already bound listener and runs it until
/// `shutdown` turns true.
pub async fn serve(
    cfg: ZooCfg,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> Result<(), StartupError> {
    for key in &cfg.unknown {
        info!(key, "zoo.cfg key not used by keeper");
    }
    if cfg.is_distributed() {
        return Err(StartupError("quorum mode is not supported yet; run standalone".into()));
    }
    // TODO(merge): replace with crate::storage::open(data_dir, data_log_dir).
    warn!("storage not wired yet: running with volatile storage");
    let storage = volatile_storage();
    let recovered = Recovered::default();
    let seed = entropy_seed();
    info!(seed, "node seed from OS entropy");
    let node = Node::new(cfg.config.clone(), recovered, seed);
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "serving clients");
    }
    server::run(cfg.config, node, listener, storage, shutdown).await;
    Ok(())
}
