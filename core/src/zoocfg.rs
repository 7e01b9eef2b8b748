//! Parsing ZooKeeper's zoo.cfg into a validated configuration.
//!
//! zoo.cfg is a Java properties file (`java.util.Properties#load`): a logical line is a key,
//! a separator (`=`, `:` or whitespace, with whitespace around it ignored) and a value; lines
//! whose first non-blank character is `#` or `!` are comments; a line ending in an odd
//! number of backslashes continues on the next one. Recognised keys fill a [`ZooCfg`]
//! (the core [`Config`] plus what only the shell needs: ports, directories, server lines);
//! unknown keys are kept in [`ZooCfg::unknown`] for the caller to log, as ZooKeeper turns
//! them into `zookeeper.<key>` system properties instead of failing. Mirrors
//! `QuorumPeerConfig.parseProperties`. Invariant: parsing never panics; every rejection is
//! a [`ConfigError`] naming the line.

use std::collections::BTreeMap;
use std::fmt;

use crate::config::Config;
use crate::ids::ServerId;

/// A parsed zoo.cfg: the core's [`Config`] plus the settings only the shell uses.
///
/// Invariant: `config.tick_ms > 0`, `min_session_timeout_ms <= max_session_timeout_ms`,
/// `data_dir` is non-empty, and `servers` holds at most one line per id (BTreeMap order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZooCfg {
    /// What the core needs. `server_id` is 1 until the caller reads `dataDir/myid`.
    pub config: Config,
    /// `clientPort`, if set.
    pub client_port: Option<u16>,
    /// `clientPortAddress` (default: all addresses).
    pub client_port_address: Option<String>,
    /// `dataDir` (required).
    pub data_dir: String,
    /// `dataLogDir` (defaults to `dataDir`).
    pub data_log_dir: String,
    /// `initLimit` in ticks (required when distributed).
    pub init_limit_ticks: Option<u32>,
    /// `syncLimit` in ticks (required when distributed).
    pub sync_limit_ticks: Option<u32>,
    /// `server.N` lines by id.
    pub servers: BTreeMap<u64, ServerLine>,
    /// `standaloneEnabled` (default true).
    pub standalone_enabled: bool,
    /// `admin.enableServer` (default true).
    pub admin_enable_server: bool,
    /// `admin.serverPort` (default 8080).
    pub admin_server_port: u16,
    /// `admin.serverAddress` (default all addresses).
    pub admin_server_address: Option<String>,
    /// `admin.commandURL` (default `/commands`), always starting with `/`.
    pub admin_command_url: String,
    /// `metricsProvider.className` names ZooKeeper's PrometheusMetricsProvider: serve
    /// `/metrics` (ZooKeeper's default provider, the only other accepted, serves nothing).
    pub metrics_prometheus: bool,
    /// `metricsProvider.httpHost` (default all addresses).
    pub metrics_http_host: Option<String>,
    /// `metricsProvider.httpPort` (default 7000).
    pub metrics_http_port: u16,
    /// `metricsProvider.exportJvmInfo` (default true): keeper exports the process metrics
    /// (`process_*`) under this switch, as ZooKeeper exports the JVM's.
    pub metrics_export_process_info: bool,
    /// The file as read, for `/commands/initial_configuration`.
    pub initial_text: String,
    /// `autopurge.snapRetainCount` (default 3, at least 3).
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval` in hours (0 = off).
    pub autopurge_purge_interval_hours: u32,
    /// `preAllocSize` in KB (default 65536).
    pub pre_alloc_size_kb: u64,
    /// `forceSync` (default yes).
    pub force_sync: bool,
    /// `keeper.serverThreads` (keeper's own; default 1, at least 1): threads that run the
    /// server's event loop (client and peer connections, the node). With 1, one thread
    /// runs them all and no request crosses threads between its socket and the node; the
    /// log and snapshot writers always have threads of their own.
    pub server_threads: usize,
    /// `dynamicConfigFile`, if set: the file that holds the `server.N` lines (see
    /// [`crate::dynamic_config`]).
    pub dynamic_config_file: Option<String>,
    /// The membership's version: the hex suffix of the dynamic file's name
    /// (`zoo.cfg.dynamic.<version>`), 0 when the lines are in zoo.cfg itself.
    pub config_version: u64,
    /// Where zoo.cfg was read from (set by the shell), so that a reconfiguration can write
    /// `zoo.cfg.dynamic.<version>` next to it and point zoo.cfg at it.
    pub source_path: Option<String>,
    /// Keys not recognised, as `key=value` in file order; logged by the caller, not fatal.
    pub unknown: Vec<String>,
}

/// One `server.N=host:quorumPort:electionPort[:role][;[clientAddr:]clientPort]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLine {
    /// Host of the quorum and election ports.
    pub host: String,
    /// Port followers connect to the leader on.
    pub quorum_port: u16,
    /// Port of leader election.
    pub election_port: u16,
    /// True for `:observer`; observers do not vote.
    pub observer: bool,
    /// Client address from the `;[addr:]port` suffix, if given with an address.
    pub client_address: Option<String>,
    /// Client port from the `;` suffix, if given.
    pub client_port: Option<u16>,
}

/// Why a zoo.cfg was rejected: the 1-based line (0 when the problem is the whole file,
/// such as a missing required key) and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line number of the offending key; 0 for whole-file problems.
    pub line: usize,
    /// What is wrong, in the words of the key.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "zoo.cfg: {}", self.message)
        } else {
            write!(f, "zoo.cfg line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl ZooCfg {
    /// Parses zoo.cfg text and validates it.
    pub fn parse(text: &str) -> Result<ZooCfg, ConfigError> {
        let props = properties(text);
        let mut cfg = Builder::default().build(&props)?;
        cfg.initial_text = text.to_string();
        Ok(cfg)
    }

    /// Parses zoo.cfg text together with the text of the file its `dynamicConfigFile`
    /// names, as ZooKeeper does: the dynamic file holds only `server.N` lines (no
    /// `version=`, which is in its name), and zoo.cfg then may not hold any. Errors in
    /// the dynamic file name its line and say so.
    pub fn parse_with_dynamic(text: &str, dynamic: &str) -> Result<ZooCfg, ConfigError> {
        let mut props = properties(text);
        if let Some(p) = props.iter().find(|p| p.key.starts_with("server.")) {
            return Err(err(p, "must be in the dynamic configuration file (dynamicConfigFile)"));
        }
        for p in properties(dynamic) {
            let in_dynamic = |m: &str| ConfigError {
                line: p.line,
                message: format!("dynamic configuration file: {}: {m}", p.key),
            };
            match p.key.as_str() {
                "version" => return Err(in_dynamic("the version is the file name's suffix")),
                k if k.starts_with("server.") => props.push(p),
                _ => return Err(in_dynamic("only server.N lines belong here")),
            }
        }
        let mut cfg = Builder::default().build(&props)?;
        cfg.initial_text = text.to_string();
        Ok(cfg)
    }

    /// True when this server runs the quorum code: `standaloneEnabled=false` or more than
    /// one voting member is configured (QuorumPeerConfig's rule).
    pub fn is_distributed(&self) -> bool {
        let voters = self.servers.values().filter(|s| !s.observer).count();
        !self.standalone_enabled || voters > 1
    }

    /// The core's ensemble for the `server.N` lines: every member with its addresses (what
    /// `/zookeeper/config` shows), initLimit and syncLimit (counted in tickTimes) turned
    /// into core ticks (`Config::tick_ms` may be finer than tickTime), and the leader's
    /// ping every half tickTime, as ZooKeeper's.
    pub fn ensemble(&self) -> crate::config::Ensemble {
        let mut ens = crate::config::Ensemble::from_servers(&self.servers, self.config.tick_ms);
        let (tick, tick_time) = (self.config.tick_ms.max(1), self.config.tick_time_ms);
        let in_ticks = |limit: u32| (u64::from(limit).max(1) * tick_time).div_ceil(tick).max(1);
        ens.init_limit_ticks = in_ticks(self.init_limit_ticks.unwrap_or(10));
        ens.sync_limit_ticks = in_ticks(self.sync_limit_ticks.unwrap_or(5));
        ens.ping_every_ticks = (tick_time / 2 / tick).max(1);
        ens.version = self.config_version;
        ens
    }
}

/// `metricsProvider.className` of ZooKeeper's Prometheus provider (serves `/metrics`).
pub const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
/// `metricsProvider.className` of ZooKeeper's default provider (no HTTP endpoint).
pub const DEFAULT_PROVIDER: &str = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";

/// The most event-loop threads `keeper.serverThreads` may ask for (a typo such as 1000
/// is refused rather than started).
pub const MAX_SERVER_THREADS: usize = 256;

/// Parses myid file text: one server id in ASCII decimal, surrounding whitespace ignored.
pub fn parse_myid(text: &str) -> Result<ServerId, ConfigError> {
    let trimmed = text.trim();
    let id: u64 = trimmed.parse().map_err(|_| ConfigError {
        line: 1,
        message: format!("myid {trimmed:?} is not a server id"),
    })?;
    Ok(ServerId(id))
}

/// One key/value pair with the line it started on.
#[derive(Debug, PartialEq, Eq)]
struct Property {
    line: usize,
    key: String,
    value: String,
}

/// Splits properties text into logical lines and then key/value pairs, Java's rules.
fn properties(text: &str) -> Vec<Property> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let first = raw.trim_start_matches([' ', '\t', '\x0c']);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut current = first;
        loop {
            if !ends_in_continuation(current) {
                logical.push_str(current);
                break;
            }
            logical.push_str(&current[..current.len() - 1]);
            match lines.next() {
                Some((_, next)) => current = next.trim_start_matches([' ', '\t', '\x0c']),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        out.push(Property { line: index + 1, key: unescape(key), value: unescape(value) });
    }
    out
}

/// The key of one physical properties line (`None` for blanks and comments).
pub(crate) fn line_key(line: &str) -> Option<String> {
    let first = line.trim_start_matches([' ', '\t', '\x0c']);
    if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
        return None;
    }
    Some(unescape(split_key_value(first).0))
}

/// A line continues when it ends in an odd number of backslashes.
fn ends_in_continuation(line: &str) -> bool {
    line.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

/// Key ends at the first unescaped `=`, `:` or whitespace; then whitespace, at most one
/// `=`/`:`, and whitespace again are skipped.
fn split_key_value(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let key_end = i.min(bytes.len());
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(stripped) = rest.strip_prefix(['=', ':']) {
        rest = stripped.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

/// Java's escapes: `\t \n \r \f`, `\uXXXX`, and `\x` meaning `x` otherwise.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Every 4lw command keeper knows, for `4lw.commands.whitelist=*`.
pub const ALL_FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
];

/// Accumulates recognised keys, then applies defaults and checks.
#[derive(Default)]
struct Builder {
    tick_ms: Option<u64>,
    min_session_ms: Option<i32>,
    max_session_ms: Option<i32>,
    whitelist: Option<Vec<String>>,
}

impl Builder {
    fn build(mut self, props: &[Property]) -> Result<ZooCfg, ConfigError> {
        let mut cfg = ZooCfg {
            config: Config::standalone(3000),
            client_port: None,
            client_port_address: None,
            data_dir: String::new(),
            data_log_dir: String::new(),
            init_limit_ticks: None,
            sync_limit_ticks: None,
            servers: BTreeMap::new(),
            standalone_enabled: true,
            admin_enable_server: true,
            admin_server_port: 8080,
            admin_server_address: None,
            admin_command_url: "/commands".to_string(),
            metrics_prometheus: false,
            metrics_http_host: None,
            metrics_http_port: 7000,
            metrics_export_process_info: true,
            initial_text: String::new(),
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            pre_alloc_size_kb: 65536,
            force_sync: true,
            server_threads: 1,
            dynamic_config_file: None,
            config_version: 0,
            source_path: None,
            unknown: Vec::new(),
        };
        let mut data_log_dir = None;
        for p in props {
            self.apply(&mut cfg, &mut data_log_dir, p)?;
        }
        self.finish(cfg, data_log_dir)
    }

    fn apply(
        &mut self,
        cfg: &mut ZooCfg,
        data_log_dir: &mut Option<String>,
        p: &Property,
    ) -> Result<(), ConfigError> {
        let v = p.value.trim();
        let c = &mut cfg.config;
        match p.key.as_str() {
            "tickTime" => self.tick_ms = Some(number(p, v)?),
            "minSessionTimeout" => self.min_session_ms = Some(number(p, v)?),
            "maxSessionTimeout" => self.max_session_ms = Some(number(p, v)?),
            "jute.maxbuffer" | "zookeeper.jute.maxbuffer" => c.max_buffer_bytes = number(p, v)?,
            "extendedTypesEnabled" | "zookeeper.extendedTypesEnabled" => {
                c.extended_types_enabled = boolean(p, v)?
            }
            "znode.container.checkIntervalMs" | "zookeeper.znode.container.checkIntervalMs" => {
                c.container_check_interval_ms = number(p, v)?
            }
            "znode.container.maxPerMinute" | "zookeeper.znode.container.maxPerMinute" => {
                c.container_max_per_minute = number(p, v)?
            }
            "DigestAuthenticationProvider.superDigest"
            | "zookeeper.DigestAuthenticationProvider.superDigest" => {
                c.super_digest = Some(v.to_string())
            }
            "skipACL" | "zookeeper.skipACL" => c.skip_acl = boolean(p, v)?,
            "4lw.commands.whitelist" | "zookeeper.4lw.commands.whitelist" => {
                self.whitelist = Some(whitelist(v))
            }
            "snapCount" | "zookeeper.snapCount" => c.snap_count = number(p, v)?,
            "reconfigEnabled" => c.reconfig_enabled = boolean(p, v)?,
            "maxClientCnxns" => c.max_client_cnxns = number(p, v)?,
            "maxWatchBytesPerSession" => c.max_watch_bytes_per_session = number(p, v)?,
            "snapshotSliceNodes" => c.snapshot_slice_nodes = number(p, v)?,
            "globalOutstandingLimit" | "zookeeper.globalOutstandingLimit" => {
                c.global_outstanding_limit = number(p, v)?
            }
            "nio.sessionlessCnxnTimeout" | "zookeeper.nio.sessionlessCnxnTimeout" => {
                c.sessionless_cnxn_timeout_ms = number(p, v)?
            }
            "readonlymode.enabled" | "zookeeper.readonlymode.enabled" => {
                c.read_only_mode_enabled = boolean(p, v)?
            }
            "localSessionsEnabled" => c.local_sessions_enabled = boolean(p, v)?,
            "clientPort" => cfg.client_port = Some(number(p, v)?),
            "clientPortAddress" => cfg.client_port_address = Some(v.to_string()),
            "dataDir" => cfg.data_dir = v.to_string(),
            "dataLogDir" => *data_log_dir = Some(v.to_string()),
            "initLimit" => cfg.init_limit_ticks = Some(number(p, v)?),
            "syncLimit" => cfg.sync_limit_ticks = Some(number(p, v)?),
            "standaloneEnabled" => cfg.standalone_enabled = boolean(p, v)?,
            "admin.enableServer" | "zookeeper.admin.enableServer" => {
                cfg.admin_enable_server = boolean(p, v)?
            }
            "admin.serverPort" | "zookeeper.admin.serverPort" => {
                cfg.admin_server_port = number(p, v)?
            }
            "admin.serverAddress" | "zookeeper.admin.serverAddress" => {
                cfg.admin_server_address = Some(v.to_string())
            }
            "admin.commandURL" | "zookeeper.admin.commandURL" => {
                if !v.starts_with('/') || v.len() < 2 {
                    return Err(err(p, &format!("{v:?} must be a path such as /commands")));
                }
                cfg.admin_command_url = v.trim_end_matches('/').to_string()
            }
            "metricsProvider.className" => match v {
                PROMETHEUS_PROVIDER => cfg.metrics_prometheus = true,
                DEFAULT_PROVIDER => cfg.metrics_prometheus = false,
                _ => {
                    return Err(err(
                        p,
                        &format!(
                            "{v:?} is not supported: keeper serves {PROMETHEUS_PROVIDER} \
                             (Prometheus /metrics) or {DEFAULT_PROVIDER} (none)"
                        ),
                    ))
                }
            },
            "metricsProvider.httpHost" => cfg.metrics_http_host = Some(v.to_string()),
            "metricsProvider.httpPort" => cfg.metrics_http_port = number(p, v)?,
            "metricsProvider.exportJvmInfo" => cfg.metrics_export_process_info = boolean(p, v)?,
            "autopurge.snapRetainCount" => {
                // ZooKeeper raises values below 3 to 3 rather than failing.
                cfg.autopurge_snap_retain_count = number::<u32>(p, v)?.max(3)
            }
            "autopurge.purgeInterval" => cfg.autopurge_purge_interval_hours = number(p, v)?,
            "preAllocSize" | "zookeeper.preAllocSize" => cfg.pre_alloc_size_kb = number(p, v)?,
            "forceSync" | "zookeeper.forceSync" => cfg.force_sync = boolean(p, v)?,
            "keeper.serverThreads" => {
                cfg.server_threads = number(p, v)?;
                if cfg.server_threads == 0 || cfg.server_threads > MAX_SERVER_THREADS {
                    let why = format!("must be between 1 and {MAX_SERVER_THREADS}");
                    return Err(err(p, &why));
                }
            }
            "dynamicConfigFile" => cfg.dynamic_config_file = Some(v.to_string()),
            key => {
                if let Some(id) = key.strip_prefix("server.") {
                    let id: u64 = id.parse().map_err(|_| err(p, "server id is not a number"))?;
                    let line = server_line(p, v)?;
                    if cfg.servers.insert(id, line).is_some() {
                        return Err(err(p, &format!("server.{id} given twice")));
                    }
                } else {
                    cfg.unknown.push(format!("{key}={v}"));
                }
            }
        }
        Ok(())
    }

    fn finish(self, mut cfg: ZooCfg, data_log_dir: Option<String>) -> Result<ZooCfg, ConfigError> {
        let whole = |message: &str| ConfigError { line: 0, message: message.to_string() };
        let tick_ms = self.tick_ms.unwrap_or(3000);
        if tick_ms == 0 {
            return Err(whole("tickTime must be greater than 0"));
        }
        if cfg.data_dir.is_empty() {
            return Err(whole("dataDir is not set"));
        }
        let twice = i32::try_from(tick_ms.saturating_mul(2)).unwrap_or(i32::MAX);
        let twenty = i32::try_from(tick_ms.saturating_mul(20)).unwrap_or(i32::MAX);
        // ZooKeeper treats -1 (and any value not set) as "use the default".
        let min = self.min_session_ms.filter(|ms| *ms >= 0).unwrap_or(twice);
        let max = self.max_session_ms.filter(|ms| *ms >= 0).unwrap_or(twenty);
        if min > max {
            return Err(whole(&format!(
                "minSessionTimeout {min} must not be larger than maxSessionTimeout {max}"
            )));
        }
        let distributed = cfg.is_distributed();
        let config = &mut cfg.config;
        config.tick_time_ms = tick_ms;
        config.tick_ms =
            if distributed { tick_ms.min(crate::config::ENSEMBLE_TICK_MS) } else { tick_ms };
        config.min_session_timeout_ms = min;
        config.max_session_timeout_ms = max;
        let mut whitelist = self.whitelist.unwrap_or_else(|| vec!["srvr".to_string()]);
        if config.read_only_mode_enabled && !whitelist.iter().any(|w| w == "isro") {
            whitelist.push("isro".to_string());
        }
        whitelist.sort();
        whitelist.dedup();
        config.four_letter_whitelist = whitelist;
        cfg.data_log_dir = data_log_dir.unwrap_or_else(|| cfg.data_dir.clone());
        // What `conf` reports.
        cfg.config.client_port = cfg.client_port.unwrap_or(0);
        cfg.config.data_dir = cfg.data_dir.clone();
        cfg.config.data_log_dir = cfg.data_log_dir.clone();
        cfg.config.standalone_enabled = cfg.standalone_enabled;
        if cfg.is_distributed() {
            if cfg.init_limit_ticks.is_none() {
                return Err(whole("initLimit is not set"));
            }
            if cfg.sync_limit_ticks.is_none() {
                return Err(whole("syncLimit is not set"));
            }
        }
        assert!(cfg.config.tick_ms > 0);
        assert!(cfg.config.min_session_timeout_ms <= cfg.config.max_session_timeout_ms);
        Ok(cfg)
    }
}

fn err(p: &Property, message: &str) -> ConfigError {
    ConfigError { line: p.line, message: format!("{}: {message}", p.key) }
}

fn number<T: std::str::FromStr>(p: &Property, v: &str) -> Result<T, ConfigError> {
    v.parse().map_err(|_| err(p, &format!("{v:?} is not a valid number")))
}

/// Java's `Boolean.parseBoolean` takes anything but "true" as false; ZooKeeper's yes/no
/// keys (forceSync, skipACL) take "yes"/"no". Both are accepted; anything else is an error
/// rather than a silent false.
fn boolean(p: &Property, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(err(p, &format!("{v:?} is not true/false/yes/no"))),
    }
}

fn whitelist(v: &str) -> Vec<String> {
    let words: Vec<String> =
        v.split(',').map(|w| w.trim().to_ascii_lowercase()).filter(|w| !w.is_empty()).collect();
    if words.iter().any(|w| w == "*") {
        return ALL_FOUR_LETTER_WORDS.iter().map(|w| w.to_string()).collect();
    }
    words
}

/// Parses the value of one `server.N` line (also used for reconfig's joining servers and
/// for `/zookeeper/config`).
pub fn parse_server_spec(value: &str) -> Result<ServerLine, ConfigError> {
    let p = Property { line: 0, key: "server".into(), value: value.into() };
    server_line(&p, value)
}

/// `host:quorum:election[:participant|observer][;[addr:]clientPort]`.
fn server_line(p: &Property, v: &str) -> Result<ServerLine, ConfigError> {
    let (server, client) = match v.split_once(';') {
        Some((s, c)) => (s.trim(), Some(c.trim())),
        None => (v, None),
    };
    let parts: Vec<&str> = server.split(':').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return Err(err(p, "expected host:quorumPort:electionPort[:participant|observer]"));
    }
    let observer = match parts.get(3).copied() {
        None | Some("participant") => false,
        Some("observer") => true,
        Some(other) => return Err(err(p, &format!("unknown server role {other:?}"))),
    };
    if parts[0].is_empty() {
        return Err(err(p, "empty host"));
    }
    let (client_address, client_port) = match client {
        None | Some("") => (None, None),
        Some(c) => match c.rsplit_once(':') {
            Some((addr, port)) => (Some(addr.to_string()), Some(number(p, port)?)),
            None => (None, Some(number(p, c)?)),
        },
    };
    Ok(ServerLine {
        host: parts[0].to_string(),
        quorum_port: number(p, parts[1])?,
        election_port: number(p, parts[2])?,
        observer,
        client_address,
        client_port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The zoo.cfg kazoo's harness writes (kazoo/testing/common.py), one server of three.
    const KAZOO: &str = "\
tickTime=2000
dataDir=/tmp/kazoo/zk0/data
clientPort=20000
secureClientPort=20004
maxClientCnxns=0
admin.serverPort=20003
initLimit=10
syncLimit=5
4lw.commands.whitelist=*
reconfigEnabled=true
DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
server.0=localhost:20002:20001:participant;20000
server.1=localhost:20012:20011:participant;localhost:20010
server.2=localhost:20022:20021:observer
";

    #[test]
    fn kazoo_generated_cfg() {
        let cfg = ZooCfg::parse(KAZOO).unwrap();
        // An ensemble member ticks at most every 50 ms; tickTime itself is kept for `conf`.
        assert_eq!(cfg.config.tick_time_ms, 2000);
        assert_eq!(cfg.config.tick_ms, crate::config::ENSEMBLE_TICK_MS);
        // initLimit 10 and syncLimit 5 tickTimes of 2000 ms in 50 ms core ticks; pings every
        // 1000 ms; the members keep the addresses /zookeeper/config shows.
        let ens = cfg.ensemble();
        assert_eq!((ens.init_limit_ticks, ens.sync_limit_ticks), (400, 200));
        assert_eq!(ens.ping_every_ticks, 20);
        let text = ens.config_text();
        assert!(
            text.contains("server.1=localhost:20012:20011:participant;localhost:20010"),
            "{text}"
        );
        assert!(text.contains("server.2=localhost:20022:20021:observer"), "{text}");
        assert_eq!(cfg.config.min_session_timeout_ms, 4000);
        assert_eq!(cfg.config.max_session_timeout_ms, 40000);
        assert_eq!(cfg.client_port, Some(20000));
        assert_eq!(cfg.data_log_dir, "/tmp/kazoo/zk0/data");
        assert_eq!(cfg.config.max_client_cnxns, 0);
        assert!(cfg.config.reconfig_enabled);
        assert_eq!(cfg.config.four_letter_whitelist.len(), ALL_FOUR_LETTER_WORDS.len());
        assert_eq!(cfg.config.super_digest.as_deref(), Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU="));
        assert_eq!(cfg.admin_server_port, 20003);
        assert_eq!(cfg.unknown, vec!["secureClientPort=20004".to_string()]);
        assert_eq!(cfg.servers.len(), 3);
        assert_eq!(
            cfg.servers[&1],
            ServerLine {
                host: "localhost".into(),
                quorum_port: 20012,
                election_port: 20011,
                observer: false,
                client_address: Some("localhost".into()),
                client_port: Some(20010),
            }
        );
        assert!(cfg.servers[&2].observer);
        assert_eq!(cfg.servers[&0].client_port, Some(20000));
        assert!(cfg.is_distributed());
    }

    #[test]
    fn defaults_for_minimal_standalone() {
        let cfg = ZooCfg::parse("dataDir=/d\n").unwrap();
        let mut want = Config::standalone(3000);
        want.client_port = 0;
        want.data_dir = "/d".into();
        want.data_log_dir = "/d".into();
        assert_eq!(cfg.config, want);
        assert_eq!(cfg.data_log_dir, "/d");
        assert!(!cfg.is_distributed());
        assert!(cfg.force_sync);
        assert_eq!(cfg.pre_alloc_size_kb, 65536);
        assert_eq!(cfg.server_threads, 1);
    }

    #[test]
    fn server_threads_is_bounded() {
        let cfg = ZooCfg::parse("dataDir=/d\nkeeper.serverThreads=4\n").unwrap();
        assert_eq!(cfg.server_threads, 4);
        assert!(cfg.unknown.is_empty());
        for bad in ["0", "257", "-1", "two"] {
            let e = rejected(&format!("dataDir=/d\nkeeper.serverThreads={bad}\n"));
            assert_eq!(e.line, 2, "{bad}: {e}");
        }
    }

    #[test]
    fn java_properties_syntax() {
        let text = "  # comment\n! also comment\n\n  dataDir : /a\\\n    /b\ntickTime 500\n\
                    clientPortAddress\t= 127.0.0.1  \nweird\\=key=v\\u0041\n";
        let cfg = ZooCfg::parse(text).unwrap();
        assert_eq!(cfg.data_dir, "/a/b");
        assert_eq!(cfg.config.tick_ms, 500);
        assert_eq!(cfg.client_port_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(cfg.unknown, vec!["weird=key=vA".to_string()]);
    }

    #[test]
    fn prefixed_and_boolean_keys() {
        let text = "dataDir=/d\nzookeeper.extendedTypesEnabled=true\nskipACL=yes\n\
                    forceSync=no\nreadonlymode.enabled=true\n4lw.commands.whitelist=ruok, Stat\n\
                    zookeeper.DigestAuthenticationProvider.superDigest=super:x\n";
        let cfg = ZooCfg::parse(text).unwrap();
        assert!(cfg.config.extended_types_enabled);
        assert!(cfg.config.skip_acl);
        assert!(!cfg.force_sync);
        assert_eq!(cfg.config.four_letter_whitelist, vec!["isro", "ruok", "stat"]);
        assert_eq!(cfg.config.super_digest.as_deref(), Some("super:x"));
    }

    fn rejected(text: &str) -> ConfigError {
        ZooCfg::parse(text).unwrap_err()
    }

    #[test]
    fn bad_inputs_are_errors_with_lines() {
        assert_eq!(rejected("dataDir=/d\ntickTime=0\n").line, 0);
        assert!(rejected("dataDir=/d\ntickTime=0\n").message.contains("tickTime"));
        assert_eq!(rejected("dataDir=/d\n\ntickTime=abc\n").line, 3);
        assert!(rejected("tickTime=2000\n").message.contains("dataDir"));
        let minmax = rejected("dataDir=/d\nminSessionTimeout=9000\nmaxSessionTimeout=8000\n");
        assert!(minmax.message.contains("minSessionTimeout"));
        assert_eq!(rejected("dataDir=/d\nserver.x=h:1:2\n").line, 2);
        assert_eq!(rejected("dataDir=/d\nserver.1=h:1\n").line, 2);
        assert_eq!(rejected("dataDir=/d\nserver.1=h:1:2:boss\n").line, 2);
        assert_eq!(rejected("dataDir=/d\nserver.1=h:1:99999\n").line, 2);
        assert_eq!(rejected("dataDir=/d\nskipACL=maybe\n").line, 2);
        let twice = "dataDir=/d\ninitLimit=5\nsyncLimit=2\nserver.1=h:1:2\nserver.1=h:3:4\n";
        assert_eq!(rejected(twice).line, 5);
        let no_limits = "dataDir=/d\nserver.1=h:1:2\nserver.2=h:3:4\n";
        assert!(rejected(no_limits).message.contains("initLimit"));
    }

    #[test]
    fn one_participant_is_standalone_unless_disabled() {
        let one = "dataDir=/d\nserver.1=h:1:2\n";
        assert!(!ZooCfg::parse(one).unwrap().is_distributed());
        let forced = "dataDir=/d\nstandaloneEnabled=false\ninitLimit=5\nsyncLimit=2\n\
                      server.1=h:1:2\n";
        assert!(ZooCfg::parse(forced).unwrap().is_distributed());
    }

    #[test]
    fn myid() {
        assert_eq!(parse_myid("3\n").unwrap(), ServerId(3));
        assert!(parse_myid("three").is_err());
        assert!(parse_myid("").is_err());
    }

    #[test]
    fn garbage_never_panics() {
        for text in ["\\", "=", ":", "\\u12", "a\\", "server.=", "server.1=;", "\u{0}=\u{0}"] {
            let _ = ZooCfg::parse(text);
            let _ = ZooCfg::parse(&format!("dataDir=/d\n{text}"));
        }
    }

    /// The AdminServer and metrics keys: ZooKeeper's defaults, the Prometheus switch, and
    /// a clear error for a provider keeper cannot load (ZooKeeper refuses to start too).
    #[test]
    fn admin_and_metrics_keys() {
        let plain = ZooCfg::parse("dataDir=/d\n").unwrap();
        assert!(plain.admin_enable_server);
        assert_eq!(plain.admin_command_url, "/commands");
        assert!(!plain.metrics_prometheus);
        assert_eq!(plain.metrics_http_port, 7000);
        assert_eq!(plain.initial_text, "dataDir=/d\n");
        let text = format!(
            "dataDir=/d\nadmin.commandURL=/cmds/\nmetricsProvider.className={PROMETHEUS_PROVIDER}\n\
             metricsProvider.httpPort=7001\nmetricsProvider.httpHost=127.0.0.1\n\
             metricsProvider.exportJvmInfo=false\n"
        );
        let cfg = ZooCfg::parse(&text).unwrap();
        assert_eq!(cfg.admin_command_url, "/cmds");
        assert!(cfg.metrics_prometheus);
        assert_eq!(cfg.metrics_http_port, 7001);
        assert_eq!(cfg.metrics_http_host.as_deref(), Some("127.0.0.1"));
        assert!(!cfg.metrics_export_process_info);
        assert!(cfg.unknown.is_empty());
        let bad = rejected("dataDir=/d\nmetricsProvider.className=com.example.Nope\n");
        assert_eq!(bad.line, 2);
        assert!(bad.message.contains("not supported"), "{}", bad.message);
        assert_eq!(rejected("dataDir=/d\nadmin.commandURL=commands\n").line, 2);
    }
}
