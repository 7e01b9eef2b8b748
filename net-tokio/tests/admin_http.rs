//! The AdminServer (`/commands/<name>`) and Prometheus `/metrics` endpoints of a real
//! server: each command's JSON is checked against state a client built (nodes, an
//! ephemeral, a watch, its session), `/metrics` is parsed as the text exposition format,
//! and the switches (`admin.enableServer`, `metricsProvider.className`) and bad paths
//! behave as ZooKeeper 3.8's do (docs/compatibility.md, "AdminServer").

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use keeper_net::startup::{serve, serve_with, Listeners};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use zookeeper_client as zk;

mod common;

const PROMETHEUS: &str = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// A server with its client port, AdminServer and metrics port on 127.0.0.1:0.
struct Server {
    client: SocketAddr,
    admin: SocketAddr,
    metrics: SocketAddr,
    _stop: watch::Sender<bool>,
}

impl Server {
    /// Sessions may last a minute, so a client's pings cannot land between a stat reset
    /// and the read that checks it; snapCount=4 makes a snapshot after a few writes.
    async fn start() -> Server {
        let cfg = common::test_config(&format!(
            "maxSessionTimeout=120000\nsnapCount=4\nmetricsProvider.className={PROMETHEUS}\n"
        ));
        let bind = || TcpListener::bind("127.0.0.1:0");
        let (client, admin, metrics) =
            (bind().await.unwrap(), bind().await.unwrap(), bind().await.unwrap());
        let addrs = [&client, &admin, &metrics].map(|l| l.local_addr().unwrap());
        let (stop, stop_rx) = watch::channel(false);
        let listeners = Listeners { client, admin: Some(admin), metrics: Some(metrics) };
        tokio::spawn(async move {
            serve_with(cfg, listeners, stop_rx).await.expect("server starts");
        });
        Server { client: addrs[0], admin: addrs[1], metrics: addrs[2], _stop: stop }
    }

    /// `GET /commands/<name>`, parsed; the command must answer 200 with JSON.
    async fn command(&self, name: &str) -> Value {
        let (status, content_type, body) = get(self.admin, &format!("/commands/{name}")).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(content_type, "application/json");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{name}: {e}: {body}"))
    }
}

/// One HTTP/1.1 GET with `Connection: close`: status, content type and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    request(addr, "GET", path).await
}

async fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).await.unwrap();
        raw
    };
    let raw = within(exchange).await;
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_string))
        .unwrap_or_default();
    (status, content_type, body.to_string())
}

async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f).await.expect("timed out")
}

/// Polls until `check` holds; fails after five seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What `populate` leaves: the client, its session id, and the watcher for /a (dropping
/// it would make the client remove the watch).
type Populated = (zk::Client, i64, zk::OneshotWatcher);

/// A client with /a, /a/b, an ephemeral /e and a data watch on /a.
async fn populate(server: &Server) -> Populated {
    let addr = server.client.to_string();
    let connect =
        zk::Client::connector().with_session_timeout(Duration::from_secs(60)).connect(&addr);
    let c = within(connect).await.expect("client connects");
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    within(c.create("/a", b"hello", &persistent)).await.unwrap();
    within(c.create("/a/b", b"x", &persistent)).await.unwrap();
    within(c.create("/e", b"", &ephemeral)).await.unwrap();
    let (_data, _stat, watcher) = within(c.get_and_watch_data("/a")).await.unwrap();
    let sid = c.session_id().0;
    (c, sid, watcher)
}

/// Every command answers with ZooKeeper's fields, and the values are the state the
/// client built: 5 + 3 znodes, one ephemeral owned by the session, one watch on /a.
#[tokio::test]
async fn commands_report_the_state_clients_built() {
    let server = Server::start().await;
    let (_client, sid, _watch) = populate(&server).await;

    let (status, content_type, index) = get(server.admin, "/commands").await;
    assert_eq!((status, content_type.as_str()), (200, "text/html; charset=utf-8"));
    for (name, _) in keeper_net::admin::PRIMARY_COMMANDS {
        assert!(index.contains(&format!("<a href=\"/commands/{name}\">{name}</a>")), "{name}");
    }
    assert_eq!(server.command("ruok").await, serde_json::json!({"command": "ruok", "error": null}));

    let srvr = server.command("srvr").await;
    assert_eq!(srvr["command"], "server_stats", "aliases answer with the primary name");
    assert_eq!(srvr["node_count"], 8);
    assert_eq!(srvr["read_only"], false);
    let stats = &srvr["server_stats"];
    assert_eq!(stats["server_state"], "standalone");
    assert_eq!(stats["num_alive_client_connections"], 1);
    assert!(stats["packets_received"].as_u64().unwrap() >= 5, "{stats}");
    assert!(stats["client_response_stats"]["max_buffer_size"].as_i64().unwrap() > 0);
    assert!(stats["log_dir_size"].as_u64().unwrap() > 0, "the log is preallocated");

    let mntr = server.command("mntr").await;
    assert_eq!(mntr["command"], "monitor");
    let expect = [
        ("znode_count", 8),
        ("ephemerals_count", 1),
        ("watch_count", 1),
        ("num_alive_connections", 1),
        ("global_sessions", 1),
        ("outstanding_requests", 0),
    ];
    for (key, want) in expect {
        assert_eq!(mntr[key], want, "mntr {key}");
    }
    assert_eq!(mntr["approximate_data_size"], tree_data_size());
    assert!(mntr["cnt_fsynctime"].as_u64().unwrap() > 0, "writes were fsynced");

    let cons = server.command("cons").await;
    let conns = cons["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0]["session_id"], sid);
    assert_eq!(conns[0]["last_operation"], "GETD");
    assert_eq!(conns[0]["session_timeout"], 60_000);
    assert!(conns[0]["remote_socket_address"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(cons["secure_connections"], serde_json::json!([]));
    let stat = server.command("stat").await;
    assert_eq!(stat["command"], "stats");
    assert_eq!(stat["connections"][0].as_object().unwrap().len(), 5, "brief connection info");

    let dump = server.command("dump").await;
    let sid_key = sid.to_string();
    assert_eq!(dump["session_id_to_ephemeral_paths"][&sid_key], serde_json::json!(["/e"]));
    let expiry = dump["expiry_time_to_session_ids"].as_object().unwrap();
    assert_eq!(expiry.values().flat_map(|v| v.as_array().unwrap()).collect::<Vec<_>>(), [sid]);

    let wchs = server.command("wchs").await;
    assert_eq!((&wchs["num_connections"], &wchs["num_paths"]), (&1.into(), &1.into()));
    assert_eq!(wchs["num_total_watches"], 1);
    let wchc = server.command("wchc").await;
    assert_eq!(wchc["session_id_to_watched_paths"], serde_json::json!({ sid_key: ["/a"] }));
    let wchp = server.command("watches_by_path").await;
    assert_eq!(wchp["path_to_session_ids"], serde_json::json!({ "/a": [sid] }));

    let conf = server.command("conf").await;
    assert_eq!((&conf["tick_time"], &conf["server_id"]), (&100.into(), &0.into()));
    assert_eq!(conf["max_session_timeout"], 120_000);
    assert!(conf["data_dir"].as_str().unwrap().ends_with("/version-2"));
    let icfg = server.command("initial_configuration").await;
    assert!(icfg["initial_configuration"].as_str().unwrap().contains("snapCount=4\n"));
    let env = server.command("envi").await;
    assert_eq!(env["command"], "environment");
    assert!(env["zookeeper.version"].as_str().unwrap().contains("keeper"));
    assert!(server.command("system_properties").await["os.name"].is_string());

    assert_eq!(server.command("isro").await["read_only"], false);
    let leader = server.command("leader").await;
    assert_eq!(leader["error"], "server is not initialized", "as ZooKeeper standalone");
    assert_eq!(server.command("voting_view").await["current_config"], serde_json::json!({}));
    assert_eq!(server.command("gtmk").await["tracemask"], 0);
    let dirs = server.command("dirs").await;
    assert!(dirs["logdir_size"].as_u64().unwrap() > 0);
    assert_eq!(dirs["datadir_size"], dirs["logdir_size"], "dataLogDir defaults to dataDir");

    // snapCount=4: the writes above made a snapshot; its zxid is reported in hex.
    eventually("a snapshot", || async {
        server.command("last_snapshot").await["zxid"] != "ffffffffffffffff"
    })
    .await;
    let snap = server.command("lsnp").await;
    let zxid = u64::from_str_radix(snap["zxid"].as_str().unwrap(), 16).unwrap();
    assert!(zxid > 0 && zxid <= stats["last_processed_zxid"].as_u64().unwrap());
    assert!(snap["timestamp"].as_i64().unwrap() > 1_600_000_000, "epoch seconds");
}

/// `approximate_data_size` of the tree `populate` builds: ZooKeeper counts path length
/// plus data length of every node, the root and the reserved /zookeeper nodes included
/// (58, as Apache ZooKeeper 3.8 reports for the same tree).
fn tree_data_size() -> u64 {
    let nodes: [(&str, usize); 7] = [
        ("/", 0),
        ("/zookeeper", 0),
        ("/zookeeper/quota", 0),
        ("/zookeeper/config", 0),
        ("/a", 5),
        ("/a/b", 1),
        ("/e", 0),
    ];
    nodes.iter().map(|(p, d)| (p.len() + d) as u64).sum()
}

/// `srst` clears the server's packet counters and reply sizes; `crst` every connection's
/// counters and last operation (ZooKeeper's ServerCnxn.resetStats).
#[tokio::test]
async fn resets_clear_the_counters() {
    let server = Server::start().await;
    let _populated = populate(&server).await;
    let before = server.command("srvr").await;
    assert!(before["server_stats"]["packets_received"].as_u64().unwrap() > 0);

    assert_eq!(server.command("srst").await["command"], "stat_reset");
    let after = server.command("srvr").await;
    assert_eq!(after["server_stats"]["packets_received"], 0);
    assert_eq!(after["client_response"]["last_buffer_size"], -1);

    assert_eq!(server.command("crst").await["error"], Value::Null);
    let conn = &server.command("cons").await["connections"][0];
    assert_eq!((&conn["packets_received"], &conn["packets_sent"]), (&0.into(), &0.into()));
    assert_eq!((&conn["last_operation"], &conn["last_cxid"]), (&"NA".into(), &(-1).into()));
    assert_eq!(conn["last_zxid"], -1);
}

/// Unknown commands answer ZooKeeper 3.8's error JSON (status 200); paths outside the
/// command URL are 404; methods other than GET/HEAD are 405.
#[tokio::test]
async fn bad_paths_and_methods() {
    let server = Server::start().await;
    for name in ["nope", "RUOK", "ruok/x"] {
        let body = server.command(name).await;
        let want =
            serde_json::json!({"command": name, "error": format!("Unknown command: {name}")});
        assert_eq!(body, want);
    }
    assert_eq!(get(server.admin, "/").await.0, 404);
    assert_eq!(get(server.admin, "/Commands/ruok").await.0, 404);
    assert_eq!(get(server.metrics, "/commands/ruok").await.0, 404);
    assert_eq!(get(server.admin, "/commands/ruok?x=1").await.0, 200, "queries are ignored");
    assert_eq!(request(server.admin, "POST", "/commands/ruok").await.0, 405);
    assert_eq!(request(server.admin, "HEAD", "/commands/ruok").await.0, 200);
}

/// `/metrics` is the Prometheus text format: every sample belongs to a family declared by
/// `# TYPE`, and the gauges carry the node's values under ZooKeeper's names.
#[tokio::test]
async fn metrics_parse_and_carry_the_values() {
    let server = Server::start().await;
    let _populated = populate(&server).await;
    let (status, content_type, text) = get(server.metrics, "/metrics").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");

    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples: BTreeMap<String, f64> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(types.insert(name.into(), kind.into()).is_none(), "{name} declared twice");
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| types.contains_key(*f)))
            .unwrap_or(name);
        assert!(types.contains_key(family), "{name} has no # TYPE line");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
        samples.insert(series.to_string(), value);
    }
    let want = [
        ("znode_count", 8.0),
        ("ephemerals_count", 1.0),
        ("watch_count", 1.0),
        ("num_alive_connections", 1.0),
        ("global_sessions", 1.0),
        ("outstanding_requests", 0.0),
        ("approximate_data_size", tree_data_size() as f64),
    ];
    for (name, value) in want {
        assert_eq!(samples.get(name), Some(&value), "{name}");
        assert_eq!(types[name], "gauge");
    }
    for name in ["avg_latency", "min_latency", "max_latency", "packets_received", "packets_sent"] {
        assert_eq!(types.get(name).map(String::as_str), Some("gauge"), "{name}");
    }
    assert!(samples["packets_received"] >= 5.0);
    assert!(samples["last_client_response_size"] > 0.0);
    for name in ["fsynctime", "snapshottime", "election_time"] {
        assert_eq!(types[name], "summary");
        assert!(samples.contains_key(&format!("{name}{{quantile=\"0.5\"}}")), "{name}");
    }
    let fsyncs = samples["fsynctime_count"];
    assert!(fsyncs >= 4.0, "a session and three creates were fsynced: {fsyncs}");
    assert_eq!(types["keeper_fsync_duration_seconds"], "histogram");
    assert_eq!(samples["keeper_fsync_duration_seconds_count"], fsyncs);
    assert_eq!(samples["keeper_fsync_duration_seconds_bucket{le=\"+Inf\"}"], fsyncs);
    assert!(samples["process_open_fds"] > 0.0);
    assert!(samples["election_time_count"] == 0.0, "a standalone server never elects");
}

/// `serve` binds the ports zoo.cfg names: the AdminServer unless `admin.enableServer=false`,
/// `/metrics` only with the Prometheus provider; a busy admin port stops start-up, as it
/// stops ZooKeeper.
#[tokio::test]
async fn switches_and_busy_ports() {
    let free_port =
        || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let (admin_port, metrics_port) = (free_port(), free_port());
    let cfg = common::test_config(&format!(
        "admin.enableServer=false\nadmin.serverPort={admin_port}\nadmin.serverAddress=127.0.0.1\n\
         metricsProvider.httpPort={metrics_port}\n"
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = listener.local_addr().unwrap();
    let (_stop, stop_rx) = watch::channel(false);
    tokio::spawn(serve(cfg, listener, stop_rx));
    assert!(common::four_letter(client, "srvr").await.contains("Mode: standalone"));
    for port in [admin_port, metrics_port] {
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err(), "port {port} is closed");
    }

    let admin_port = free_port();
    let cfg = common::test_config(&format!(
        "admin.serverPort={admin_port}\nadmin.serverAddress=127.0.0.1\nadmin.commandURL=/cmds\n"
    ));
    let (_stop2, stop_rx) = watch::channel(false);
    tokio::spawn(serve(cfg, TcpListener::bind("127.0.0.1:0").await.unwrap(), stop_rx));
    let admin: SocketAddr = ([127, 0, 0, 1], admin_port).into();
    eventually("the AdminServer", || async { TcpStream::connect(admin).await.is_ok() }).await;
    let (status, _, body) = get(admin, "/cmds/ruok").await;
    assert_eq!((status, body.contains("\"ruok\"")), (200, true));
    assert_eq!(get(admin, "/commands/ruok").await.0, 404, "admin.commandURL moved it");

    let busy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let cfg = common::test_config(&format!(
        "admin.serverPort={busy_port}\nadmin.serverAddress=127.0.0.1\n"
    ));
    let (_stop3, stop_rx) = watch::channel(false);
    let err = serve(cfg, TcpListener::bind("127.0.0.1:0").await.unwrap(), stop_rx)
        .await
        .expect_err("the admin port is taken");
    assert!(err.to_string().contains("admin.serverPort"), "{err}");
}
