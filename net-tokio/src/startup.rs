//! Server startup: zoo.cfg → myid → storage → Node → bound client port, and for a member of
//! an ensemble (`server.N` lines) the quorum and election ports and the peer transport.
//!
//! Invariant: everything that can fail at startup (unreadable or invalid zoo.cfg, bad
//! myid, port in use) returns a [`StartupError`] with a readable message before any client
//! is accepted.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keeper_core::output::DurableWrite;
use keeper_core::persist::Recovered;
use keeper_core::zoocfg::{parse_myid, ZooCfg};
use keeper_core::Node;
use keeper_core::PersistSeq;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::{info, Instrument};

use crate::admin::{self, Sources};
use crate::peer::{self, ConfigFiles, Member, PeerConfig};
use crate::server::{self, StorageLink};
use crate::stats::ShellStats;
use crate::storage::{Storage, StorageOptions};

/// Why the server could not start.
#[derive(Debug)]
pub struct StartupError(pub String);

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

/// Reads and parses zoo.cfg (and the file its `dynamicConfigFile` names, whose name
/// carries the membership's version), then reads `dataDir/myid` when there are server
/// lines. A member whose own server line gives a client port and whose zoo.cfg has no
/// `clientPort` (ZooKeeper removes it when it rewrites zoo.cfg) serves on that port.
pub fn load_config(path: &Path) -> Result<ZooCfg, StartupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StartupError(format!("cannot read {}: {e}", path.display())))?;
    let mut cfg = ZooCfg::parse(&text).map_err(|e| StartupError(e.to_string()))?;
    if let Some(dynamic) = cfg.dynamic_config_file.clone() {
        let dyn_text = std::fs::read_to_string(&dynamic)
            .map_err(|e| StartupError(format!("cannot read dynamicConfigFile {dynamic}: {e}")))?;
        cfg = ZooCfg::parse_with_dynamic(&text, &dyn_text)
            .map_err(|e| StartupError(format!("{e} (dynamicConfigFile {dynamic})")))?;
        cfg.config_version = keeper_core::dynamic_config::version_from_file_name(&dynamic);
    }
    cfg.source_path = Some(path.display().to_string());
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
        let own = cfg.servers.get(&cfg.config.server_id.0);
        if let (None, Some(line)) = (cfg.client_port, own) {
            if let Some(port) = line.client_port {
                cfg.client_port = Some(port);
                cfg.config.client_port = port;
                cfg.client_port_address = line.client_address.clone();
            }
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

/// Opens the dataDir/dataLogDir store and links it to the node task: `Persist` outputs
/// flow to the storage writer threads, durable sequence numbers flow back. Fsync and
/// snapshot durations go to `stats`.
pub fn open_storage(
    cfg: &ZooCfg,
    stats: Arc<ShellStats>,
) -> Result<(StorageLink, Recovered), StartupError> {
    let (synced_tx, synced_rx) = mpsc::unbounded_channel();
    let (full_tx, faults) = mpsc::unbounded_channel();
    let (closed_tx, closed) = tokio::sync::oneshot::channel();
    let full = crate::disk_full::FullWatch {
        faults,
        closed,
        cfg: Arc::new(cfg.clone()),
        stats: stats.clone(),
        space_back: None,
    };
    let options = StorageOptions {
        prealloc_bytes: (cfg.pre_alloc_size_kb * 1024).max(4096),
        // autopurge.purgeInterval > 0 turns purging on; keeper purges after each snapshot.
        auto_purge_keep: (cfg.autopurge_purge_interval_hours > 0)
            .then_some(cfg.autopurge_snap_retain_count.max(3) as usize),
        stats,
        on_full: Some(full_tx),
    };
    let (storage, recovered) = Storage::open_with(
        Path::new(&cfg.data_dir),
        Path::new(&cfg.data_log_dir),
        synced_tx,
        options,
    )
    .map_err(|e| StartupError(format!("cannot open the data directory: {e}")))?;
    let (persist_tx, mut persist_rx) = mpsc::unbounded_channel::<(PersistSeq, DurableWrite)>();
    let forward = async move {
        while let Some((seq, write)) = persist_rx.recv().await {
            storage.persist(seq, write);
        }
        // The node task is gone (or rebuilding after a full disk): finish queued writes
        // and join the writer threads.
        storage.close();
        let _ = closed_tx.send(());
    };
    tokio::spawn(forward.in_current_span());
    Ok((StorageLink { persist: persist_tx, persisted: synced_rx, full: Some(full) }, recovered))
}

/// The sockets a server serves on, bound before it starts (tests bind 127.0.0.1:0).
pub struct Listeners {
    /// The client port.
    pub client: TcpListener,
    /// The AdminServer (`admin.serverPort`), when enabled.
    pub admin: Option<TcpListener>,
    /// Prometheus `/metrics` (`metricsProvider.httpPort`), when enabled.
    pub metrics: Option<TcpListener>,
}

/// Binds the AdminServer and metrics ports the configuration asks for. Like ZooKeeper,
/// a port that cannot be bound stops start-up.
pub async fn bind_http_ports(
    cfg: &ZooCfg,
) -> Result<(Option<TcpListener>, Option<TcpListener>), StartupError> {
    let bind = |what: &'static str, host: Option<&String>, port: u16| {
        let host = host.cloned().unwrap_or_else(|| "0.0.0.0".into());
        async move {
            TcpListener::bind((host.as_str(), port))
                .await
                .map_err(|e| StartupError(format!("cannot listen on {host}:{port} ({what}): {e}")))
        }
    };
    let admin = if cfg.admin_enable_server {
        let key = "AdminServer, admin.serverPort";
        Some(bind(key, cfg.admin_server_address.as_ref(), cfg.admin_server_port).await?)
    } else {
        None
    };
    let metrics = if cfg.metrics_prometheus {
        let key = "Prometheus metrics, metricsProvider.httpPort";
        Some(bind(key, cfg.metrics_http_host.as_ref(), cfg.metrics_http_port).await?)
    } else {
        None
    };
    Ok((admin, metrics))
}

/// Starts a server from a parsed zoo.cfg on an already bound client listener, binding the
/// AdminServer and metrics ports from the configuration, and runs it until `shutdown`
/// turns true.
pub async fn serve(
    cfg: ZooCfg,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> Result<(), StartupError> {
    let (admin, metrics) = bind_http_ports(&cfg).await?;
    serve_with(cfg, Listeners { client: listener, admin, metrics }, shutdown).await
}

/// Starts a server on listeners bound by the caller and runs it until `shutdown` turns
/// true. The admin and metrics listeners are served only when given.
pub async fn serve_with(
    cfg: ZooCfg,
    listeners: Listeners,
    shutdown: watch::Receiver<bool>,
) -> Result<(), StartupError> {
    for key in &cfg.unknown {
        info!(key, "zoo.cfg key not used by keeper");
    }
    let mut cfg = cfg;
    let peers = if cfg.is_distributed() {
        let peer_cfg = Arc::new(ensemble_config(&mut cfg)?);
        let bound = peer::bind(&peer_cfg).await.map_err(|e| StartupError(e.to_string()))?;
        Some((peer_cfg, bound))
    } else {
        None
    };
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        cfg.config.host_name = name.trim().to_string();
    }
    // SASL DIGEST-MD5 users come from a JAAS file, as ZooKeeper's come from
    // -Djava.security.auth.login.config: keeper reads its path from KEEPER_JAAS_CONFIG.
    if let Ok(path) = std::env::var("KEEPER_JAAS_CONFIG") {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| StartupError(format!("cannot read JAAS file {path}: {e}")))?;
        cfg.config.sasl_users = keeper_core::sasl::parse_jaas_users(&text);
        info!(path, users = cfg.config.sasl_users.len(), "SASL DIGEST-MD5 enabled");
    }
    log_config_summary(&cfg);
    let stats = Arc::new(ShellStats::new());
    let (storage, recovered) = open_storage(&cfg, stats.clone())?;
    let last =
        recovered.log.last().map(|r| r.header.zxid).or(recovered.snapshot.as_ref().map(|s| s.zxid));
    info!(
        snapshot = ?recovered.snapshot.as_ref().map(|s| s.zxid),
        log_records = recovered.log.len(),
        last_zxid = ?last,
        "recovered from {}",
        cfg.data_dir
    );
    let seed = entropy_seed();
    info!(seed, "node seed from OS entropy");
    let node = Node::new(cfg.config.clone(), recovered, seed);
    let (handle, inbox) = server::node_channel();
    let sources = Sources { node: handle, stats: stats.clone(), cfg: Arc::new(cfg.clone()) };
    let Listeners { client, admin, metrics } = listeners;
    let mut http = Vec::new();
    if let Some(l) = admin {
        if let Ok(addr) = l.local_addr() {
            info!(%addr, url = cfg.admin_command_url, "AdminServer listening");
        }
        let site = admin::Site::Admin(sources.clone());
        http.push(tokio::spawn(admin::serve(l, site, shutdown.clone()).in_current_span()));
    }
    if let Some(l) = metrics {
        if let Ok(addr) = l.local_addr() {
            info!(%addr, "Prometheus metrics listening on /metrics");
        }
        let site = admin::Site::Metrics(sources);
        http.push(tokio::spawn(admin::serve(l, site, shutdown.clone()).in_current_span()));
    }
    if let Ok(addr) = client.local_addr() {
        info!(%addr, "serving clients");
    }
    let peer_events = peers.map(|(peer_cfg, bound)| peer::start(peer_cfg, bound, shutdown.clone()));
    server::run_with(cfg.config, node, client, storage, inbox, stats, peer_events, shutdown).await;
    for task in http {
        task.abort();
    }
    Ok(())
}

/// One INFO line with what an operator checks first: where the data lives and the
/// settings that change behaviour.
fn log_config_summary(cfg: &ZooCfg) {
    let c = &cfg.config;
    let autopurge = if cfg.autopurge_purge_interval_hours > 0 {
        format!("after each snapshot, keeping {}", cfg.autopurge_snap_retain_count)
    } else {
        "off".to_string()
    };
    info!(
        data_dir = cfg.data_dir,
        data_log_dir = cfg.data_log_dir,
        tick_time_ms = c.tick_time_ms,
        core_tick_ms = c.tick_ms,
        session_timeout_ms = format!("{}..{}", c.min_session_timeout_ms, c.max_session_timeout_ms),
        max_client_cnxns = c.max_client_cnxns,
        snap_count = c.snap_count,
        autopurge = %autopurge,
        four_letter_words = c.four_letter_whitelist.join(","),
        admin_server = cfg.admin_enable_server,
        prometheus = cfg.metrics_prometheus,
        "{} starting ({})",
        c.version_text,
        match &c.ensemble {
            Some(e) => format!(
                "server {} of an ensemble of {} voters and {} observers",
                c.server_id,
                e.participants.len(),
                e.observers.len()
            ),
            None => "standalone".to_string(),
        }
    );
}

/// Turns the `server.N` lines into the core's ensemble (participants, observers, initLimit
/// and syncLimit) and the transport's member list. The server's own id (`myid`) must be
/// one of the lines.
pub fn ensemble_config(cfg: &mut ZooCfg) -> Result<PeerConfig, StartupError> {
    let me = cfg.config.server_id;
    if !cfg.servers.contains_key(&me.0) {
        return Err(StartupError(format!(
            "myid is {me} but zoo.cfg has no server.{me} line (ids: {:?})",
            cfg.servers.keys().collect::<Vec<_>>()
        )));
    }
    let members: Vec<Member> = cfg
        .servers
        .iter()
        .map(|(id, line)| Member {
            id: keeper_core::ServerId(*id),
            host: line.host.clone(),
            quorum_port: line.quorum_port,
            election_port: line.election_port,
            observer: line.observer,
        })
        .collect();
    cfg.config.ensemble = Some(cfg.ensemble());
    // syncLimit as a duration: how long a link may stay silent (the leader pings its
    // learners every half tickTime, and idle links carry keepalives).
    let sync_limit = u64::from(cfg.sync_limit_ticks.unwrap_or(5).max(1));
    let idle = Duration::from_millis(sync_limit.saturating_mul(cfg.config.tick_time_ms).max(100));
    let files = match (&cfg.source_path, cfg.config.reconfig_enabled) {
        (Some(path), true) => Some(ConfigFiles { static_path: path.into() }),
        _ => None,
    };
    let max_frame = keeper_core::peer_codec::DEFAULT_MAX_FRAME;
    Ok(PeerConfig { me, members, max_frame, idle: Some(idle), files })
}
