//! What a node needs to know about its configuration, already validated.
//!
//! Built by the zoo.cfg parser ([`crate::zoocfg`]) in the real server and by scenario files
//! in the simulator. All durations that the core counts are in ticks or derive from
//! `tick_ms`; client-facing milliseconds stay in ms until a request is decoded.

use std::collections::BTreeMap;

use crate::ids::ServerId;
use crate::zoocfg::ServerLine;

/// A node's validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This server's id (myid); 1 when standalone (the high byte of its session ids).
    pub server_id: ServerId,
    /// The length of one core tick in ms: ZooKeeper's tickTime for a standalone server;
    /// for an ensemble at most [`ENSEMBLE_TICK_MS`], so that election and failover are not
    /// paced by a 2 s tickTime (ZooKeeper's election runs on its own 200 ms timers).
    pub tick_ms: u64,
    /// ZooKeeper's tickTime as configured (what `conf` shows; the read-only delay and the
    /// leader's ping interval derive from it). Equal to `tick_ms` unless finer ticks were
    /// chosen for an ensemble.
    pub tick_time_ms: u64,
    /// Smallest session timeout granted (default 2 x tickTime).
    pub min_session_timeout_ms: i32,
    /// Largest session timeout granted (default 20 x tickTime).
    pub max_session_timeout_ms: i32,
    /// `jute.maxbuffer`: the largest frame and znode payload accepted.
    pub max_buffer_bytes: usize,
    /// `extendedTypesEnabled`: TTL nodes allowed.
    pub extended_types_enabled: bool,
    /// `znode.container.checkIntervalMs`.
    pub container_check_interval_ms: u64,
    /// `znode.container.maxPerMinute`.
    pub container_max_per_minute: u32,
    /// `DigestAuthenticationProvider.superDigest`, as `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    /// `skipACL=yes`.
    pub skip_acl: bool,
    /// `4lw.commands.whitelist`, lower-case commands; `*` expanded to all.
    pub four_letter_whitelist: Vec<String>,
    /// `snapCount`: a snapshot after snapCount/2 + rand(snapCount/2) transactions.
    pub snap_count: u64,
    /// Nodes a snapshot writes per handled input (keeper's own; also at most
    /// [`SNAPSHOT_SLICE_BYTES`] a slice): a snapshot is encoded a slice per input after it
    /// becomes due, so no single input pays for the whole tree (see `tree::cow`).
    pub snapshot_slice_nodes: usize,
    /// `reconfigEnabled`.
    pub reconfig_enabled: bool,
    /// `standaloneEnabled` (default true): while true, a reconfig may not leave fewer than
    /// two voters (ZooKeeper's rule); false lets an ensemble shrink to one voter.
    pub standalone_enabled: bool,
    /// `maxClientCnxns` per client IP (0 = unlimited).
    pub max_client_cnxns: u32,
    /// `maxWatchBytesPerSession` (keeper's own): bytes of watches one connection may hold,
    /// see `watch::watch_cost` (0 = no bound).
    pub max_watch_bytes_per_session: usize,
    /// `globalOutstandingLimit`: requests in process past which busy connections are not
    /// read from (enforced by the shell).
    pub global_outstanding_limit: u32,
    /// `zookeeper.nio.sessionlessCnxnTimeout`: a connection that has not completed its
    /// handshake within this many ms is closed (enforced by the shell).
    pub sessionless_cnxn_timeout_ms: u64,
    /// `readonlymode.enabled`.
    pub read_only_mode_enabled: bool,
    /// `localSessionsEnabled`.
    pub local_sessions_enabled: bool,
    /// Text shown as `zookeeper.version` and in `srvr` (the version keeper reports).
    pub version_text: String,
    /// `clientPort`, shown by `conf`.
    pub client_port: u16,
    /// `dataDir`, shown by `conf`.
    pub data_dir: String,
    /// `dataLogDir` (= dataDir when unset), shown by `conf`.
    pub data_log_dir: String,
    /// This machine's name, shown by `envi` as `host.name`.
    pub host_name: String,
    /// SASL DIGEST-MD5 users (`user_<name>="<password>"` of the JAAS `Server` section);
    /// empty means SASL is not offered and a SASL request fails authentication.
    pub sasl_users: Vec<(String, String)>,
    /// Known bugs to run with, for proving the simulator's checkers (inert unless built with
    /// the `planted-bugs` feature).
    pub planted: crate::planted::PlantedBugs,
    /// The ensemble this server belongs to; `None` runs standalone.
    pub ensemble: Option<Ensemble>,
}

/// The members of a replicated ensemble and Zab's time limits.
///
/// Invariant: `participants` is non-empty, sorted and disjoint from `observers`; every id
/// in `servers` is a participant or an observer, with the matching role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ensemble {
    /// Voting members (server ids), sorted.
    pub participants: Vec<ServerId>,
    /// Non-voting members, sorted.
    pub observers: Vec<ServerId>,
    /// `initLimit`: ticks a leader may take to establish, and a learner to sync.
    pub init_limit_ticks: u64,
    /// `syncLimit`: ticks without hearing from the other side before a link counts as lost.
    pub sync_limit_ticks: u64,
    /// Election timing, in ticks.
    pub election: crate::election::Timing,
    /// The leader pings its learners every this many ticks (ZooKeeper: every half
    /// tickTime); 1 where a tick is a tickTime.
    pub ping_every_ticks: u64,
    /// The members' addresses as their `server.N` lines give them (may be empty in
    /// scripted tests and the simulator, which need no addresses).
    pub servers: BTreeMap<ServerId, ServerLine>,
    /// The configuration's version: 0 for the one in zoo.cfg, then the zxid of the
    /// reconfig transaction that made it (ZooKeeper's `QuorumVerifier` version).
    pub version: u64,
}

impl Ensemble {
    /// An ensemble of `participants` and `observers` with ZooKeeper's usual limits
    /// (initLimit 10, syncLimit 5) and election timing derived from `tick_ms` (ZooKeeper's
    /// finalize wait and first resend of 200 ms, a resend backoff capped at 2 s).
    pub fn new(
        participants: impl IntoIterator<Item = ServerId>,
        observers: impl IntoIterator<Item = ServerId>,
        tick_ms: u64,
    ) -> Ensemble {
        let mut participants: Vec<ServerId> = participants.into_iter().collect();
        participants.sort();
        participants.dedup();
        let mut observers: Vec<ServerId> =
            observers.into_iter().filter(|o| !participants.contains(o)).collect();
        observers.sort();
        observers.dedup();
        assert!(!participants.is_empty(), "an ensemble needs a participant");
        let ticks = |ms: u64| ms.div_ceil(tick_ms.max(1)).max(1);
        Ensemble {
            participants,
            observers,
            init_limit_ticks: 10,
            sync_limit_ticks: 5,
            election: crate::election::Timing {
                finalize_wait_ticks: ticks(200),
                resend_min_ticks: ticks(200),
                resend_max_ticks: ticks(2000).max(ticks(200)),
            },
            ping_every_ticks: 1,
            servers: BTreeMap::new(),
            version: 0,
        }
    }
    /// The ensemble zoo.cfg's `server.N` lines describe (roles from the lines).
    pub fn from_servers(servers: &BTreeMap<u64, ServerLine>, tick_ms: u64) -> Ensemble {
        let ids = |obs: bool| {
            servers.iter().filter(move |(_, l)| l.observer == obs).map(|(id, _)| ServerId(*id))
        };
        let mut e = Ensemble::new(ids(false), ids(true), tick_ms);
        e.servers = servers.iter().map(|(id, l)| (ServerId(*id), l.clone())).collect();
        e
    }
    /// True when `id` is a participant or an observer.
    pub fn is_member(&self, id: ServerId) -> bool {
        self.participants.contains(&id) || self.observers.contains(&id)
    }
    /// The text of `/zookeeper/config` and of `zoo.cfg.dynamic.<version>`: one
    /// `server.N=host:quorumPort:electionPort:role[;clientAddr:clientPort]` line per
    /// member in id order, then `version=<hex>` (ZooKeeper's `QuorumMaj.toString`). A
    /// member without a known address is shown at 127.0.0.1 with port 0.
    pub fn config_text(&self) -> String {
        let mut out = String::new();
        let mut ids: Vec<ServerId> =
            self.participants.iter().chain(self.observers.iter()).copied().collect();
        ids.sort();
        for id in ids {
            let observer = self.observers.contains(&id);
            let line = self.servers.get(&id).cloned().unwrap_or(ServerLine {
                host: "127.0.0.1".into(),
                quorum_port: 0,
                election_port: 0,
                observer,
                client_address: None,
                client_port: None,
            });
            let role = if observer { "observer" } else { "participant" };
            out.push_str(&format!(
                "server.{}={}:{}:{}:{role}",
                id.0, line.host, line.quorum_port, line.election_port
            ));
            if let Some(port) = line.client_port {
                let addr = line.client_address.as_deref().unwrap_or("0.0.0.0");
                out.push_str(&format!(";{addr}:{port}"));
            }
            out.push('\n');
        }
        out.push_str(&format!("version={:x}", self.version));
        out
    }
    /// This ensemble with its members and version replaced by those `text` (as
    /// [`Ensemble::config_text`] writes it) describes; limits and timing are kept.
    pub fn with_config_text(&self, text: &str) -> Result<Ensemble, String> {
        let mut servers = BTreeMap::new();
        let mut version = None;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (key, value) = line.split_once('=').ok_or_else(|| format!("bad line {line:?}"))?;
            if key == "version" {
                let v = u64::from_str_radix(value, 16).map_err(|_| format!("bad {line:?}"))?;
                version = Some(v);
            } else if let Some(id) = key.strip_prefix("server.") {
                let id: u64 = id.parse().map_err(|_| format!("bad server id in {line:?}"))?;
                let spec = crate::zoocfg::parse_server_spec(value).map_err(|e| e.message)?;
                servers.insert(id, spec);
            } else {
                return Err(format!("unknown key in {line:?}"));
            }
        }
        if !servers.values().any(|l| !l.observer) {
            return Err("no participant".into());
        }
        let mut e = Ensemble::from_servers(&servers, 1);
        e.init_limit_ticks = self.init_limit_ticks;
        e.sync_limit_ticks = self.sync_limit_ticks;
        e.election = self.election;
        e.version = version.unwrap_or(0);
        Ok(e)
    }
    /// The voting view of this configuration.
    pub fn view(&self) -> crate::election::QuorumView {
        crate::election::QuorumView::new(
            self.participants.iter().copied(),
            self.observers.iter().copied(),
        )
    }
    /// Every member but `me`, participants first.
    pub fn others(&self, me: ServerId) -> impl Iterator<Item = ServerId> + '_ {
        self.participants.iter().chain(self.observers.iter()).copied().filter(move |s| *s != me)
    }
}

/// The version keeper reports to clients: ZooKeeper 3.9-compatible, so clients enable
/// every feature they gate on the server version.
pub const VERSION_TEXT: &str = "3.9.5-keeper-0.1.0, built on 2026-11-23 00:00 UTC";

/// Default [`Config::snapshot_slice_nodes`]: about a millisecond of encoding (a 200,000-node
/// tree takes some 100 inputs).
pub const DEFAULT_SNAPSHOT_SLICE_NODES: usize = 2048;

/// The most bytes one snapshot slice writes (before the node that crosses it is done), so a
/// tree of large znodes is sliced as finely as one of small ones.
pub const SNAPSHOT_SLICE_BYTES: usize = 1 << 20;

/// Slices of a snapshot under way a tick writes (any other input writes one): an idle
/// server sees only ticks, one per tickTime standalone, and at one slice each a
/// million-node tree would take some 500 ticks to finish.
pub const SNAPSHOT_SLICES_PER_TICK: usize = 16;

/// Slices a tick writes when nothing but ticks arrived since the last one: nobody is
/// waiting, so a quiet server finishes a million-node snapshot in two ticks (about 50 ms of
/// encoding each) instead of holding its half-built image for thirty.
pub const SNAPSHOT_SLICES_PER_IDLE_TICK: usize = 256;

/// The longest core tick of an ensemble member, in ms (see [`Config::tick_ms`]).
pub const ENSEMBLE_TICK_MS: u64 = 50;

impl Config {
    /// ZooKeeper's defaults for a standalone server with the given tickTime.
    pub fn standalone(tick_ms: u64) -> Config {
        Config {
            server_id: ServerId(1),
            tick_ms,
            tick_time_ms: tick_ms,
            min_session_timeout_ms: (2 * tick_ms) as i32,
            max_session_timeout_ms: (20 * tick_ms) as i32,
            max_buffer_bytes: crate::limits::DEFAULT_MAX_BUFFER_BYTES,
            extended_types_enabled: false,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            super_digest: None,
            skip_acl: false,
            four_letter_whitelist: vec!["srvr".to_string()],
            snap_count: 100_000,
            snapshot_slice_nodes: DEFAULT_SNAPSHOT_SLICE_NODES,
            reconfig_enabled: false,
            standalone_enabled: true,
            max_client_cnxns: 60,
            max_watch_bytes_per_session: crate::limits::DEFAULT_MAX_WATCH_BYTES_PER_SESSION,
            global_outstanding_limit: 1000,
            sessionless_cnxn_timeout_ms: 10_000,
            read_only_mode_enabled: false,
            local_sessions_enabled: false,
            version_text: VERSION_TEXT.to_string(),
            client_port: 2181,
            data_dir: String::new(),
            data_log_dir: String::new(),
            host_name: "localhost".to_string(),
            sasl_users: Vec::new(),
            planted: crate::planted::PlantedBugs::default(),
            ensemble: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_text_is_zookeepers_and_reads_back() {
        let cfg = crate::zoocfg::ZooCfg::parse(
            "dataDir=/d\ninitLimit=5\nsyncLimit=2\n\
             server.1=10.0.0.1:2888:3888;2181\n\
             server.2=10.0.0.2:2888:3888:participant;10.0.0.2:2181\n\
             server.7=10.0.0.7:2888:3888:observer\n",
        )
        .expect("valid");
        let mut e = Ensemble::from_servers(&cfg.servers, 2000);
        assert_eq!(e.participants, vec![ServerId(1), ServerId(2)]);
        assert_eq!(e.observers, vec![ServerId(7)]);
        e.version = 0x1_0000_0003;
        let text = e.config_text();
        assert_eq!(
            text,
            "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
             server.2=10.0.0.2:2888:3888:participant;10.0.0.2:2181\n\
             server.7=10.0.0.7:2888:3888:observer\nversion=100000003"
        );
        let back = Ensemble::new([ServerId(9)], [], 2000).with_config_text(&text).expect("ok");
        assert_eq!((&back.participants, &back.observers), (&e.participants, &e.observers));
        assert_eq!(back.version, e.version);
        for bad in ["server.1", "server.x=h:1:2", "version=zz", "foo=1", "server.3=h:1:2:observer"]
        {
            assert!(e.with_config_text(bad).is_err(), "{bad}");
        }
    }
}
