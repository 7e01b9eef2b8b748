//! The simulator's speed (divan): one run of the built-in default scenario (a standalone
//! node crashed and restarted under a mixed client workload, every checker on), reported
//! as time per run; `keeper sim run --seed 42` prints the same run's events/s and speed.

use keeper_sim::trace::Trace;
use keeper_sim::{Scenario, Sim};

fn main() {
    divan::main();
}

/// The default scenario, seed 42, without a trace file.
#[divan::bench(sample_count = 10)]
fn default_scenario_seed_42() -> u64 {
    let summary = Sim::new(Scenario::default_scenario(), 42, Trace::new(None)).run();
    assert!(summary.passed(), "the default scenario passes at seed 42");
    summary.events
}
