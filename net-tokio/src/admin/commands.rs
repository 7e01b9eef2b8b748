//! The AdminServer's commands: names and aliases as ZooKeeper 3.8 registers them, and JSON
//! bodies with its field names and shapes (`admin.Commands`, checked against a running
//! 3.8.0: docs/compatibility.md).
//!
//! Every body is a JSON object ending with `"command"` (the primary name, or the name asked
//! for when it is unknown) and `"error"` (null, or why the command could not run). Unknown
//! names answer 200 with `"Unknown command: <name>"`, as ZooKeeper 3.8 does; a path outside
//! `admin.commandURL` is a 404. Invariant: node state comes from one query to the node
//! task per request, so a body never mixes two moments of the node.

use std::collections::BTreeMap;
use std::path::Path;

use hyper::StatusCode;
use keeper_core::node::{ConnectionView, ServerView, NO_ZXID};
use keeper_core::output::Mode;
use serde::Serialize;

use super::{metrics, process, Reply, Sources};

/// Primary names (sorted, as ZooKeeper lists them) and their aliases.
pub const PRIMARY_COMMANDS: &[(&str, &[&str])] = &[
    ("configuration", &["conf", "config"]),
    ("connection_stat_reset", &["crst"]),
    ("connections", &["cons"]),
    ("dirs", &[]),
    ("dump", &[]),
    ("environment", &["env", "envi"]),
    ("get_trace_mask", &["gtmk"]),
    ("initial_configuration", &["icfg"]),
    ("is_read_only", &["isro"]),
    ("last_snapshot", &["lsnp"]),
    ("leader", &["lead"]),
    ("monitor", &["mntr"]),
    ("observers", &["obsr"]),
    ("ruok", &[]),
    ("server_stats", &["srvr"]),
    ("stat_reset", &["srst"]),
    ("stats", &["stat"]),
    ("system_properties", &["sysp"]),
    ("voting_view", &[]),
    ("watch_summary", &["wchs"]),
    ("watches", &["wchc"]),
    ("watches_by_path", &["wchp"]),
    ("zabstate", &[]),
];

/// Every name a command answers to, primary names and aliases.
pub fn command_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = Vec::new();
    for (primary, aliases) in PRIMARY_COMMANDS {
        names.push(primary);
        names.extend(aliases.iter());
    }
    names.sort();
    names
}

/// What ZooKeeper answers when the server behind the AdminServer is not serving.
const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// Answers a request for `path` on the AdminServer.
pub async fn answer(src: &Sources, path: &str, _query: Option<&str>) -> Reply {
    let base = src.cfg.admin_command_url.as_str();
    if path == base || path.strip_prefix(base) == Some("/") {
        return listing(base);
    }
    let Some(name) = path.strip_prefix(base).and_then(|rest| rest.strip_prefix('/')) else {
        return Reply::not_found(path);
    };
    let Some(primary) = primary_name(name) else {
        return error_body(name, &format!("Unknown command: {name}"));
    };
    match run(src, primary).await {
        Ok(body) => Reply::json(body),
        Err(why) => error_body(primary, &why),
    }
}

fn primary_name(name: &str) -> Option<&'static str> {
    PRIMARY_COMMANDS
        .iter()
        .find(|(primary, aliases)| *primary == name || aliases.contains(&name))
        .map(|(primary, _)| *primary)
}

/// ZooKeeper's command index: one link per primary name.
fn listing(base: &str) -> Reply {
    let mut body = String::new();
    for (name, _) in PRIMARY_COMMANDS {
        body.push_str(&format!("<a href=\"{base}/{name}\">{name}</a>\n<br/>\n"));
    }
    Reply { status: StatusCode::OK, content_type: "text/html; charset=utf-8", body }
}

/// A command's data followed by `command` and `error`, as ZooKeeper's CommandResponse.
#[derive(Serialize)]
struct Body<'a, T: Serialize> {
    #[serde(flatten)]
    data: T,
    command: &'a str,
    error: Option<&'a str>,
}

fn body<T: Serialize>(command: &str, data: T) -> String {
    let body = Body { data, command, error: None };
    serde_json::to_string_pretty(&body).expect("admin bodies serialize: string keys only")
}

fn error_body(command: &str, why: &str) -> Reply {
    let b = Body { data: BTreeMap::<String, String>::new(), command, error: Some(why) };
    Reply::json(serde_json::to_string_pretty(&b).expect("an error body serializes"))
}

/// Runs a primary command; `Err` carries the text for the `error` field.
async fn run(src: &Sources, command: &'static str) -> Result<String, String> {
    let node = &src.node;
    let down = || NOT_SERVING.to_string();
    let empty = BTreeMap::<String, String>::new();
    Ok(match command {
        "ruok" => body(command, empty),
        "server_stats" => {
            let view = node.query(|n| n.server_view()).await.ok_or_else(down)?;
            body(command, srvr(src, &view))
        }
        "stats" => {
            let (view, conns) =
                node.query(|n| (n.server_view(), n.connection_views())).await.ok_or_else(down)?;
            let connections: Vec<ConnectionJson> =
                conns.iter().map(|c| connection_json(c, false)).collect();
            body(command, Stat { srvr: srvr(src, &view), connections, secure_connections: [] })
        }
        "monitor" => {
            let m = metrics::monitor(src).await.ok_or_else(down)?;
            body(command, m.to_json_map())
        }
        "configuration" => body(command, configuration(src)),
        "connections" => {
            let conns = node.query(|n| n.connection_views()).await.ok_or_else(down)?;
            let connections: Vec<ConnectionJson> =
                conns.iter().map(|c| connection_json(c, true)).collect();
            body(command, Connections { connections, secure_connections: [] })
        }
        "dump" => {
            let (expiry, ephemerals) = node
                .query(|n| (n.session_expiry(), n.ephemerals_by_session()))
                .await
                .ok_or_else(down)?;
            let expiry_time_to_session_ids: BTreeMap<String, Vec<i64>> = expiry
                .into_iter()
                .map(|b| (b.expire_at_ms.to_string(), b.sessions.iter().map(|s| s.0).collect()))
                .collect();
            let session_id_to_ephemeral_paths: BTreeMap<String, Vec<String>> =
                ephemerals.into_iter().map(|(s, paths)| (s.0.to_string(), paths)).collect();
            body(command, Dump { expiry_time_to_session_ids, session_id_to_ephemeral_paths })
        }
        "environment" => body(command, process::environment(&src.cfg)),
        "system_properties" => body(command, process::system_properties()),
        "watch_summary" => {
            let w = node.query(|n| n.watch_summary()).await.ok_or_else(down)?;
            body(
                command,
                WatchSummaryJson {
                    num_connections: w.connections,
                    num_paths: w.paths,
                    num_total_watches: w.watches,
                },
            )
        }
        "watches" => {
            let by_session = node.query(|n| n.watches_by_session()).await.ok_or_else(down)?;
            let session_id_to_watched_paths: BTreeMap<String, Vec<String>> =
                by_session.into_iter().map(|(s, paths)| (s.0.to_string(), paths)).collect();
            body(command, WatchesJson { session_id_to_watched_paths })
        }
        "watches_by_path" => {
            let by_path = node.query(|n| n.watches_by_path()).await.ok_or_else(down)?;
            let path_to_session_ids: BTreeMap<String, Vec<i64>> = by_path
                .into_iter()
                .map(|(p, sessions)| (p, sessions.iter().map(|s| s.0).collect()))
                .collect();
            body(command, WatchesByPathJson { path_to_session_ids })
        }
        "dirs" => body(command, dirs(src)),
        "is_read_only" => {
            let mode = node.query(|n| n.mode()).await.ok_or_else(down)?;
            body(command, ReadOnly { read_only: mode == Mode::ReadOnly })
        }
        "leader" => {
            let mode = node.query(|n| n.mode()).await.ok_or_else(down)?;
            match mode {
                // ZooKeeper answers so for any server that is not in a quorum.
                Mode::Standalone | Mode::ReadOnly => {
                    return Err("server is not initialized".to_string())
                }
                // The core does not report whom it follows yet: ZooKeeper's "unknown" values.
                _ => body(
                    command,
                    LeaderJson {
                        is_leader: mode == Mode::Leader,
                        leader_id: if mode == Mode::Leader {
                            src.cfg.config.server_id.0 as i64
                        } else {
                            -1
                        },
                        leader_ip: String::new(),
                    },
                ),
            }
        }
        "voting_view" => {
            let mode = node.query(|n| n.mode()).await.ok_or_else(down)?;
            body(command, voting_view(src, mode))
        }
        "observers" => body(command, Observers { synced_observers: 0, observers: [] }),
        "zabstate" => body(command, ZabState { voting: false, zabstate: "" }),
        // keeper has no trace mask: `gtmk` answers 0 as well.
        "get_trace_mask" => body(command, TraceMask { tracemask: 0 }),
        "last_snapshot" => {
            let (zxid, timestamp) = match src.stats.last_snapshot() {
                Some(s) => (format!("{:x}", s.zxid.0), s.written_epoch_secs as i64),
                None => (format!("{:x}", -1i64), -1),
            };
            body(command, LastSnapshot { zxid, timestamp })
        }
        "initial_configuration" => body(
            command,
            InitialConfiguration { initial_configuration: src.cfg.initial_text.clone() },
        ),
        "connection_stat_reset" => {
            node.query(|n| n.reset_connection_stats()).await.ok_or_else(down)?;
            body(command, empty)
        }
        "stat_reset" => {
            node.query(|n| n.reset_server_stats()).await.ok_or_else(down)?;
            src.stats.reset();
            body(command, empty)
        }
        other => unreachable!("{other} is in PRIMARY_COMMANDS but has no handler"),
    })
}

#[derive(Serialize)]
struct ClientResponse {
    last_buffer_size: i64,
    min_buffer_size: i64,
    max_buffer_size: i64,
}

#[derive(Serialize)]
struct ServerStatsJson {
    packets_sent: u64,
    packets_received: u64,
    fsync_threshold_exceed_count: u64,
    client_response_stats: ClientResponse,
    data_dir_size: u64,
    log_dir_size: u64,
    provider_null: bool,
    server_state: &'static str,
    last_processed_zxid: i64,
    outstanding_requests: u64,
    avg_latency: f64,
    max_latency: u64,
    min_latency: u64,
    num_alive_client_connections: u64,
    uptime: u64,
    auth_failed_count: u64,
    non_mtlsremote_conn_count: u64,
    non_mtlslocal_conn_count: u64,
}

#[derive(Serialize)]
struct Srvr {
    version: String,
    read_only: bool,
    server_stats: ServerStatsJson,
    client_response: ClientResponse,
    node_count: u64,
}

#[derive(Serialize)]
struct Stat {
    #[serde(flatten)]
    srvr: Srvr,
    connections: Vec<ConnectionJson>,
    secure_connections: [ConnectionJson; 0],
}

fn srvr(src: &Sources, v: &ServerView) -> Srvr {
    let sizes = src.stats.responses();
    let response = || ClientResponse {
        last_buffer_size: sizes.last,
        min_buffer_size: sizes.min,
        max_buffer_size: sizes.max,
    };
    let (data_dir_size, log_dir_size) = dir_sizes(src);
    Srvr {
        version: v.version.clone(),
        read_only: v.mode == Mode::ReadOnly,
        server_stats: ServerStatsJson {
            packets_sent: v.packets_sent,
            packets_received: v.packets_received,
            fsync_threshold_exceed_count: src.stats.fsync_over_threshold(),
            client_response_stats: response(),
            data_dir_size,
            log_dir_size,
            provider_null: false,
            server_state: v.mode.as_str(),
            last_processed_zxid: v.last_processed_zxid.0 as i64,
            outstanding_requests: v.outstanding_requests,
            avg_latency: round4(v.latency_avg_ms),
            max_latency: v.latency_max_ms,
            min_latency: v.latency_min_ms,
            num_alive_client_connections: v.alive_connections,
            uptime: src.stats.uptime_ms(),
            auth_failed_count: src.stats.auth_failed(),
            non_mtlsremote_conn_count: 0,
            non_mtlslocal_conn_count: 0,
        },
        client_response: response(),
        node_count: v.znode_count,
    }
}

/// ZooKeeper rounds averages to 4 decimals (`2.7143`).
pub(super) fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[derive(Serialize)]
struct ConnectionJson {
    remote_socket_address: String,
    /// Always OP_READ (1): keeper's connection tasks read whenever they can.
    interest_ops: u32,
    outstanding_requests: u64,
    packets_received: u64,
    packets_sent: u64,
    #[serde(flatten)]
    detail: Option<ConnectionDetail>,
}

#[derive(Serialize)]
struct ConnectionDetail {
    session_id: i64,
    last_operation: &'static str,
    established: u64,
    session_timeout: i32,
    last_cxid: i32,
    last_zxid: i64,
    last_response_time: u64,
    /// The core does not keep the last latency apart; ZooKeeper's value after a reset.
    last_latency: u64,
    min_latency: u64,
    avg_latency: u64,
    max_latency: u64,
}

fn connection_json(c: &ConnectionView, full: bool) -> ConnectionJson {
    let detail = full.then(|| ConnectionDetail {
        session_id: c.session.map(|s| s.0).unwrap_or(0),
        last_operation: c.last_operation,
        established: c.established_ms,
        session_timeout: c.session_timeout_ms,
        last_cxid: c.last_cxid,
        last_zxid: if c.last_zxid == NO_ZXID { -1 } else { c.last_zxid.0 as i64 },
        last_response_time: c.last_response_ms,
        last_latency: 0,
        min_latency: c.latency_min_ms,
        avg_latency: c.latency_avg_ms,
        max_latency: c.latency_max_ms,
    });
    ConnectionJson {
        remote_socket_address: c.remote_address.clone(),
        interest_ops: 1,
        outstanding_requests: c.outstanding_requests,
        packets_received: c.packets_received,
        packets_sent: c.packets_sent,
        detail,
    }
}

#[derive(Serialize)]
struct Connections {
    connections: Vec<ConnectionJson>,
    secure_connections: [ConnectionJson; 0],
}

#[derive(Serialize)]
struct Dump {
    expiry_time_to_session_ids: BTreeMap<String, Vec<i64>>,
    session_id_to_ephemeral_paths: BTreeMap<String, Vec<String>>,
}

#[derive(Serialize)]
struct WatchSummaryJson {
    num_connections: u64,
    num_paths: u64,
    num_total_watches: u64,
}

#[derive(Serialize)]
struct WatchesJson {
    session_id_to_watched_paths: BTreeMap<String, Vec<String>>,
}

#[derive(Serialize)]
struct WatchesByPathJson {
    path_to_session_ids: BTreeMap<String, Vec<i64>>,
}

#[derive(Serialize)]
struct Configuration {
    client_port: u16,
    data_dir: String,
    data_log_dir: String,
    tick_time: u64,
    max_client_cnxns: u32,
    min_session_timeout: i32,
    max_session_timeout: i32,
    server_id: u64,
    client_port_listen_backlog: i32,
}

fn configuration(src: &Sources) -> Configuration {
    let c = &src.cfg.config;
    Configuration {
        client_port: c.client_port,
        data_dir: format!("{}/version-2", c.data_dir),
        data_log_dir: format!("{}/version-2", c.data_log_dir),
        tick_time: c.tick_time_ms,
        max_client_cnxns: c.max_client_cnxns,
        min_session_timeout: c.min_session_timeout_ms,
        max_session_timeout: c.max_session_timeout_ms,
        // ZooKeeper reports 0 for a standalone server, whatever myid says.
        server_id: if src.cfg.is_distributed() { c.server_id.0 } else { 0 },
        client_port_listen_backlog: -1,
    }
}

#[derive(Serialize)]
struct Dirs {
    datadir_size: u64,
    logdir_size: u64,
}

fn dirs(src: &Sources) -> Dirs {
    let (datadir_size, logdir_size) = dir_sizes(src);
    Dirs { datadir_size, logdir_size }
}

/// Bytes of the files in `dataDir/version-2` and `dataLogDir/version-2` (preallocated log
/// space included), as ZooKeeper's `getDataDirSize`/`getLogDirSize` count them.
fn dir_sizes(src: &Sources) -> (u64, u64) {
    let size = |dir: &str| -> u64 {
        let Ok(entries) = std::fs::read_dir(Path::new(dir).join("version-2")) else {
            return 0;
        };
        entries
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    };
    (size(&src.cfg.data_dir), size(&src.cfg.data_log_dir))
}

#[derive(Serialize)]
struct ReadOnly {
    read_only: bool,
}

#[derive(Serialize)]
struct LeaderJson {
    is_leader: bool,
    leader_id: i64,
    leader_ip: String,
}

/// One voting member, with ZooKeeper's `QuorumServerView` field names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QuorumServerView {
    server_addresses: Vec<String>,
    election_addresses: Vec<String>,
    client_address: String,
    learner_type: &'static str,
}

#[derive(Serialize)]
struct VotingView {
    current_config: BTreeMap<String, QuorumServerView>,
}

/// Empty for a standalone server, as ZooKeeper's; the configured members otherwise.
fn voting_view(src: &Sources, mode: Mode) -> VotingView {
    if matches!(mode, Mode::Standalone) {
        return VotingView { current_config: BTreeMap::new() };
    }
    let current_config = src
        .cfg
        .servers
        .iter()
        .map(|(id, s)| {
            let client_address = match (&s.client_address, s.client_port) {
                (Some(a), Some(p)) => format!("{a}:{p}"),
                (None, Some(p)) => format!("0.0.0.0:{p}"),
                _ => String::new(),
            };
            let view = QuorumServerView {
                server_addresses: vec![format!("{}:{}", s.host, s.quorum_port)],
                election_addresses: vec![format!("{}:{}", s.host, s.election_port)],
                client_address,
                learner_type: if s.observer { "observer" } else { "participant" },
            };
            (id.to_string(), view)
        })
        .collect();
    VotingView { current_config }
}

#[derive(Serialize)]
struct Observers {
    synced_observers: u64,
    observers: [u8; 0],
}

#[derive(Serialize)]
struct ZabState {
    voting: bool,
    zabstate: &'static str,
}

#[derive(Serialize)]
struct TraceMask {
    tracemask: i64,
}

#[derive(Serialize)]
struct LastSnapshot {
    zxid: String,
    timestamp: i64,
}

#[derive(Serialize)]
struct InitialConfiguration {
    initial_configuration: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve_to_primary_names() {
        assert_eq!(primary_name("srvr"), Some("server_stats"));
        assert_eq!(primary_name("mntr"), Some("monitor"));
        assert_eq!(primary_name("config"), Some("configuration"));
        assert_eq!(primary_name("ruok"), Some("ruok"));
        assert_eq!(primary_name("RUOK"), None, "names are case-sensitive, as ZooKeeper's");
        assert_eq!(primary_name("ruok/x"), None);
        let mut sorted: Vec<&str> = PRIMARY_COMMANDS.iter().map(|(n, _)| *n).collect();
        sorted.sort();
        assert_eq!(sorted, PRIMARY_COMMANDS.iter().map(|(n, _)| *n).collect::<Vec<_>>());
        let names = command_names();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names, unique, "no name is registered twice");
    }

    #[test]
    fn error_bodies_end_with_command_and_error() {
        let r = error_body("nope", "Unknown command: nope");
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v, serde_json::json!({"command": "nope", "error": "Unknown command: nope"}));
        let ok: serde_json::Value =
            serde_json::from_str(&body("ruok", BTreeMap::<String, String>::new())).unwrap();
        assert_eq!(ok, serde_json::json!({"command": "ruok", "error": null}));
    }
}
