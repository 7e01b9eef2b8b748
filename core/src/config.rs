//! What a node needs to know about its configuration, already validated.
//!
//! Built by the zoo.cfg parser ([`crate::zoocfg`]) in the real server and by scenario files
//! in the simulator. All durations that the core counts are in ticks or derive from
//! `tick_ms`; client-facing milliseconds stay in ms until a request is decoded.

use crate::ids::ServerId;

/// A node's validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This server's id (myid); 1 when standalone (the high byte of its session ids).
    pub server_id: ServerId,
    /// ZooKeeper's tickTime: the length of one core tick in ms.
    pub tick_ms: u64,
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
    /// `reconfigEnabled`.
    pub reconfig_enabled: bool,
    /// `maxClientCnxns` per client IP (0 = unlimited).
    pub max_client_cnxns: u32,
    /// `globalOutstandingLimit`.
    pub global_outstanding_limit: u32,
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
}

/// The version keeper reports to clients: ZooKeeper 3.9-compatible, so clients enable
/// every feature they gate on the server version.
pub const VERSION_TEXT: &str = "3.9.5-keeper-0.1.0, built on 2026-11-23 00:00 UTC";

impl Config {
    /// ZooKeeper's defaults for a standalone server with the given tickTime.
    pub fn standalone(tick_ms: u64) -> Config {
        Config {
            server_id: ServerId(1),
            tick_ms,
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
            reconfig_enabled: false,
            max_client_cnxns: 60,
            global_outstanding_limit: 1000,
            read_only_mode_enabled: false,
            local_sessions_enabled: false,
            version_text: VERSION_TEXT.to_string(),
            client_port: 2181,
            data_dir: String::new(),
            data_log_dir: String::new(),
            host_name: "localhost".to_string(),
            sasl_users: Vec::new(),
            planted: crate::planted::PlantedBugs::default(),
        }
    }
}
