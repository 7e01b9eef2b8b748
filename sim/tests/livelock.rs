//! The `time-advances` check: a run whose virtual time stops advancing ends and fails
//! instead of hanging the swarm (seed 11215 of `--random` once looped forever at one
//! instant: a LOOKING participant and a settled observer answering each other).

use keeper_sim::trace::Trace;
use keeper_sim::{Scenario, Sim};

fn zero_latency() -> Scenario {
    let path = format!("{}/../scenarios/observer-zero-latency.toml", env!("CARGO_MANIFEST_DIR"));
    Scenario::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn time_advances(s: &keeper_sim::engine::Summary) -> Option<String> {
    s.verdicts.iter().find(|v| v.name == "time-advances").expect("always judged").failure.clone()
}

/// With the real bound the zero-latency scenario passes; with a bound below the burst of
/// events its election makes at one instant, the run stops there and fails the check,
/// naming the instant and the event it stopped at.
#[test]
fn a_burst_beyond_the_bound_ends_the_run_and_fails() {
    let s = Sim::new(zero_latency(), 1, Trace::new(None)).run();
    assert_eq!(time_advances(&s), None);
    assert!(s.passed(), "{:?}", s.verdicts);
    assert_eq!(s.sim_ms, 8000, "ran to the end");

    let s = Sim::new(zero_latency(), 1, Trace::new(None)).with_livelock_events(20).run();
    let failure = time_advances(&s).expect("the check fires");
    assert!(failure.starts_with("virtual time stopped at 0 ms: over 20 events"), "{failure}");
    assert!(!s.passed());
    assert!(s.sim_ms < 8000, "the run ended early, at {} ms", s.sim_ms);
}
