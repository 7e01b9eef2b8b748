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
