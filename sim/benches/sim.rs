//! The simulator's speed (divan, release build): one whole run of the built-in default
//! scenario (a standalone node crashed and restarted under a mixed client workload), and
//! issue 3's two speed cases, a five-server ensemble at 100 and at 1,000 client ops/s for 20
//! simulated seconds (sim/benches/scenarios/). Divan reports time per run: 20 s divided by
//! it is the real-time factor; `keeper sim run sim/benches/scenarios/FILE --seed 1` prints
//! the same run's factor and events/s. Every checker runs, and must pass.

use keeper_sim::trace::Trace;
use keeper_sim::{Scenario, Sim};

fn main() {
    divan::main();
}

fn run(sc: Scenario, seed: u64) -> u64 {
    let summary = Sim::new(sc, seed, Trace::new(None)).run();
    assert!(summary.passed(), "{} passes at seed {seed}", summary.scenario);
    summary.events
}

/// The default scenario, seed 42, without a trace file.
#[divan::bench(sample_count = 10)]
fn default_scenario_seed_42() -> u64 {
    run(Scenario::default_scenario(), 42)
}

/// Five servers, ten sessions, 100 ops/s, 20 simulated seconds (target: at least 1,000x).
#[divan::bench(sample_count = 10)]
fn ensemble_5_nodes_100_ops_per_s() -> u64 {
    let text = include_str!("scenarios/ensemble-100ops.toml");
    run(Scenario::parse(text).expect("the bench scenario parses"), 1)
}

/// Five servers, fifty sessions, 1,000 ops/s, 20 simulated seconds (target: at least 100x).
#[divan::bench(sample_count = 5)]
fn ensemble_5_nodes_1000_ops_per_s() -> u64 {
    let text = include_str!("scenarios/ensemble-1000ops.toml");
    run(Scenario::parse(text).expect("the bench scenario parses"), 1)
}
