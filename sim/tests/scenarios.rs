//! Scenario files parse, the built-in default equals scenarios/default.toml, and malformed
//! scenarios are rejected with a message instead of a panic.

use keeper_sim::scenario::{parse_duration_ms, Action, Scenario, DEFAULT_SCENARIO};

#[test]
fn every_scenario_file_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert!(names.len() >= 4, "expected the scenario library, found {names:?}");
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let sc = Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(sc.name, stem, "{}: name should match the file name", path.display());
        assert!(text.starts_with('#'), "{}: should open with a comment", path.display());
    }
}

#[test]
fn built_in_default_is_the_default_file() {
    let file = include_str!("../../scenarios/default.toml");
    assert_eq!(DEFAULT_SCENARIO, file);
    let sc = Scenario::default_scenario();
    assert_eq!(sc.name, "default");
    assert_eq!(sc.nodes, 1);
    assert_eq!(sc.duration_ms(), 12_000);
    assert_eq!(sc.faults.len(), 2);
    assert_eq!(sc.faults[0].action, Action::Crash);
    assert_eq!(parse_duration_ms(&sc.faults[0].at), Ok(4000));
}

#[test]
fn durations() {
    assert_eq!(parse_duration_ms("2s"), Ok(2000));
    assert_eq!(parse_duration_ms("1.5s"), Ok(1500));
    assert_eq!(parse_duration_ms("250ms"), Ok(250));
    assert_eq!(parse_duration_ms("2m"), Ok(120_000));
    assert_eq!(parse_duration_ms("40"), Ok(40));
    assert!(parse_duration_ms("soon").is_err());
    assert!(parse_duration_ms("-1s").is_err());
    assert!(parse_duration_ms("NaNs").is_err());
}

fn rejects(text: &str, needle: &str) {
    let e = Scenario::parse(text).expect_err("must be rejected");
    assert!(e.contains(needle), "error {e:?} should mention {needle:?}");
}

#[test]
fn malformed_scenarios_are_rejected() {
    let base = "name = \"x\"\nduration = \"1s\"\n";
    rejects("duration = \"1s\"", "name");
    rejects(&format!("{base}colour = 3"), "colour");
    rejects("name = \"x\"\nduration = \"later\"", "bad duration");
    rejects(&format!("{base}nodes = 0"), "nodes");
    rejects(&format!("{base}[[fault]]\nat = \"1s\"\naction = \"crash\"\nnode = 2"), "no node 2");
    rejects(&format!("{base}[[fault]]\nat = \"1s\"\naction = \"pause\""), "needs a duration");
    rejects(&format!("{base}[[fault]]\nat = \"1s\"\naction = \"explode\""), "explode");
    rejects(&format!("{base}clock_drift = [1.0, 1.0]"), "more entries than nodes");
    rejects(&format!("{base}clock_drift = [0.0]"), "positive factor");
    rejects(&format!("{base}[disk]\nfsync_ms = [5, 1]"), "min 5 > max 1");
    rejects(&format!("{base}[workload]\nclients = 1\nops_per_sec = 1\nmix = {{}}"), "all weights");
}

/// Runs `scenarios/NAME.toml` with `seed`, returning the summary and the trace text.
fn run_file(name: &str, seed: u64) -> (keeper_sim::Summary, String) {
    let path = format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let sc = Scenario::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let sink = keeper_sim::trace::MemorySink::new();
    let trace = sink.trace();
    let summary = keeper_sim::Sim::new(sc, seed, trace).run();
    let text = sink.text();
    (summary, text)
}

/// Runs seeds 1..=3 of a scenario, requires every checker to pass, and returns the traces.
fn passing(name: &str) -> Vec<String> {
    (1..=3)
        .map(|seed| {
            let (s, trace) = run_file(name, seed);
            assert!(s.passed(), "{name} seed {seed}: {:?}", s.verdicts);
            assert!(s.ops_completed > 20, "{name} seed {seed}: only {} ops", s.ops_completed);
            trace
        })
        .collect()
}

fn count(trace: &str, needle: &str) -> usize {
    trace.matches(needle).count()
}

/// A crash and restart at one instant leaves one clock running: no session of 1000ms
/// expires while its client pings every third of it.
#[test]
fn bounce_keeps_one_clock() {
    for trace in passing("bounce") {
        assert_eq!(count(&trace, "\"k\":\"start\""), 4, "started once and restarted three times");
        assert_eq!(closes(&trace), 0, "a session expired");
    }
}

#[test]
fn crash_while_paused_recovers() {
    for trace in passing("crash-while-paused") {
        assert_eq!(count(&trace, "incarnation=2"), 1);
        // The crash dropped what the pause had stalled: nothing reaches the new incarnation.
        assert!(trace.contains("node=1 inputs=0\",\"k\":\"unpause\""), "stalled inputs leaked");
    }
}

/// Torn tails really lose unsynced writes, and nothing acknowledged goes with them.
#[test]
fn torn_tail_loses_only_unacknowledged_writes() {
    let lost: usize = passing("torn-tail")
        .iter()
        .flat_map(|t| t.split("unsynced_lost=").skip(1))
        .map(|rest| rest.split('"').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert!(lost > 0, "the slow disk should leave unsynced writes for the crashes to tear");
}

/// A damaged record is caught by its checksum: the node refuses to start and is never
/// handed the record, and the checkers (damage-never-applied included) pass.
#[test]
fn corrupt_record_is_caught_by_checksum() {
    for trace in passing("corrupt-record") {
        assert_eq!(count(&trace, "\"k\":\"damage\""), 1);
        assert!(trace.contains("corrupt at offset"), "recovery must name the damage");
        assert!(trace.contains("record checksum mismatch"), "caught by the checksum");
        assert_eq!(count(&trace, "incarnation=2"), 0, "the node must not start");
        assert!(trace.contains("damage-never-applied ok"));
    }
}

/// A full disk rebuilds the node once, at its first failed fsync, and it needs no restart
/// when space returns (sim/tests/membership.rs checks the refused writes).
#[test]
fn disk_full_rebuilds_the_node_once() {
    for trace in passing("disk-full") {
        assert_eq!(count(&trace, "rebuilt from disk"), 1);
        assert_eq!(count(&trace, "incarnation=2"), 1);
        assert_eq!(count(&trace, "incarnation=3"), 0);
    }
}

#[test]
fn clock_drift_within_the_ping_margin_expires_no_session() {
    for trace in passing("clock-drift-fast") {
        assert_eq!(closes(&trace), 0);
    }
}

/// Every reconnect after a crash carries the client's data watches in setWatches.
#[test]
fn reconnects_reregister_watches() {
    for trace in passing("reconnect-setwatches") {
        assert!(count(&trace, "SetWatches") >= 2, "watches re-registered after each crash");
        assert_eq!(count(&trace, "err=-112"), 0, "sessions survive a short crash");
    }
}

/// keeper's session clock is its ticks, which a stalled process misses: no session
/// expires because of a pause alone (see the scenario's comment for ZooKeeper's view).
#[test]
fn pause_past_session_timeout_expires_no_session() {
    for trace in passing("pause-past-session-timeout") {
        assert_eq!(closes(&trace), 0);
        assert_eq!(count(&trace, "\"k\":\"unpause\""), 1);
    }
}

/// Pings delayed past the session timeout expire sessions; clients learn it on reconnect.
#[test]
fn network_stall_expires_sessions() {
    for trace in passing("session-expiry-network-stall") {
        assert!(closes(&trace) >= 1, "no session expired");
        assert!(count(&trace, "err=-112") >= 1, "no client was told SessionExpired");
    }
}

/// closeSession transactions in a trace (an appended one prints its kind `close_session`;
/// any other mention, as a request, prints `CloseSession`).
fn closes(trace: &str) -> usize {
    count(trace, "close_session") + count(trace, "CloseSession")
}
