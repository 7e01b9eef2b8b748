//! A run is a pure function of (scenario, seed): the same seed gives the same trace hash, and
//! different seeds give different ones.
//!
//! With the stub node these already pass (clients, network and disks draw from their seeded
//! streams), but they only mean something once the real node answers; the test that the
//! default scenario passes every checker needs the node and is ignored until it lands.

use keeper_sim::trace::Trace;
use keeper_sim::{Scenario, Sim};

fn hash(seed: u64) -> u64 {
    Sim::new(Scenario::default_scenario(), seed, Trace::new(None)).run().trace_hash
}

#[test]
fn same_seed_same_hash() {
    for seed in [0, 1, 42, u64::MAX] {
        assert_eq!(hash(seed), hash(seed), "seed {seed}");
    }
}

#[test]
fn different_seeds_different_hashes() {
    let mut hashes: Vec<u64> = (0..16).map(hash).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), 16);
}

/// The trace file is the same run in text: one JSON line per hashed event, and writing it
/// changes neither the run nor its hash.
#[test]
fn trace_file_matches_the_hash() {
    let path = std::env::temp_dir().join(format!("keeper-sim-trace-{}.jsonl", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let s = Sim::new(Scenario::default_scenario(), 3, Trace::new(Some(Box::new(file)))).run();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    for line in text.lines() {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "not JSON: {line}");
    }
    assert_eq!(s.trace_hash, hash(3), "a trace file changed the hash");
    assert!(text.lines().count() > 1000, "only {} lines", text.lines().count());
    assert!(text.contains("\"k\":\"crash\""), "the default scenario crashes node 1");
}

#[test]
fn default_scenario_passes_every_checker() {
    for seed in 0..8 {
        let s = Sim::new(Scenario::default_scenario(), seed, Trace::new(None)).run();
        for v in &s.verdicts {
            assert_eq!(v.failure, None, "seed {seed} {}", v.name);
        }
        assert!(s.ops_completed > 500, "seed {seed}: only {} ops completed", s.ops_completed);
    }
}

#[test]
fn every_scenario_passes_with_fixed_seeds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        let sc = Scenario::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for seed in 0..3 {
            let s = Sim::new(sc.clone(), seed, Trace::new(None)).run();
            assert!(s.passed(), "{} seed {seed}: {:?}", path.display(), s.verdicts);
        }
    }
}
