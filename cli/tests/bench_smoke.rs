//! `keeper bench` against a real keeper server for about a second: it must complete
//! requests and print one JSON line with the fields `bench/compare` reads. Bad options are
//! usage errors, not panics.

use std::process::Command;
use std::time::Duration;

use keeper_core::zoocfg::ZooCfg;

/// Starts a standalone keeper on 127.0.0.1 (a free port, a fresh dataDir) on its own runtime
/// thread; returns its address. The server lives until the test process ends.
fn start_server() -> String {
    let dir = std::env::temp_dir().join(format!("keeper-bench-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // No AdminServer: the test must not depend on port 8080 being free.
    let text = format!(
        "dataDir={}\ntickTime=100\nclientPort=0\nadmin.enableServer=false\n",
        dir.display()
    );
    let cfg = ZooCfg::parse(&text).expect("valid test config");
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap().to_string()).unwrap();
            let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            keeper_net::startup::serve(cfg, listener, stop_rx).await.expect("server runs");
        });
    });
    addr_rx.recv_timeout(Duration::from_secs(10)).expect("server bound its port")
}

fn keeper(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_keeper")).args(args).output().expect("run keeper")
}

/// A mixed run completes requests and reports them consistently in its JSON line.
#[test]
fn bench_runs_against_keeper_and_reports_json() {
    let addr = start_server();
    let out = keeper(&[
        "bench",
        "--servers",
        &addr,
        "--workload",
        "mixed",
        "--read-pct",
        "80",
        "--sessions",
        "2",
        "--depth",
        "4",
        "--keys",
        "50",
        "--warmup",
        "0.2",
        "--duration",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ops/s"), "a table comes first: {stdout}");
    let line = stdout.lines().last().expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(line).expect("the last line is JSON");
    let ops = v["ops"].as_u64().unwrap();
    assert!(ops > 0, "completed requests: {v}");
    assert_eq!(v["reads"].as_u64().unwrap() + v["writes"].as_u64().unwrap(), ops);
    assert!(v["writes"].as_u64().unwrap() > 0, "a mixed load writes too: {v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["workload"], "mixed");
    assert_eq!(v["sessions"], 2);
    assert_eq!(v["depth"], 4);
    let window = v["window_s"].as_f64().unwrap();
    assert!(window > 0.5 && window < 5.0, "about a second measured: {window}");
    let rate = v["ops_per_s"].as_f64().unwrap();
    assert!((rate - ops as f64 / window).abs() / rate < 0.01, "ops_per_s = ops / window: {v}");
    let (p50, p99, p999, max) = (
        v["p50_us"].as_u64().unwrap(),
        v["p99_us"].as_u64().unwrap(),
        v["p999_us"].as_u64().unwrap(),
        v["max_us"].as_u64().unwrap(),
    );
    assert!(0 < p50 && p50 <= p99 && p99 <= p999 && p999 <= max, "ordered percentiles: {v}");

    // The probe answers quickly for a running server.
    let out = keeper(&["bench", "--probe", "--servers", &addr, "--duration", "10"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("probe JSON");
    assert_eq!(v["probe"], "ok");
}

/// Bad options name the option and exit 2 before connecting anywhere.
#[test]
fn bad_options_are_usage_errors() {
    for (args, needle) in [
        (&["bench", "--workload", "scan"][..], "unknown workload"),
        (&["bench", "--sessions", "0"][..], "--sessions"),
        (&["bench", "--read-pct", "101"][..], "--read-pct"),
        (&["bench", "--servers", "nohost"][..], "host:port"),
        (&["bench", "--prefix", "rel"][..], "--prefix"),
        (&["bench", "--duration", "-1"][..], "--duration"),
    ] {
        let out = keeper(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
