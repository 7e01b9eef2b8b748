//! Swarm: many seeds of one scenario (or of random scenarios) on every core, then a report.
//!
//! Each run stays single-threaded and deterministic; only whole runs are spread over
//! threads, and results are kept by seed, so the report does not depend on which thread
//! finished first. A sample of seeds (and every failing seed) is run twice, and a trace hash
//! that differs between the two runs is reported as a failure of its own: non-determinism
//! would make every other failure unreproducible.
//!
//! Invariant: `Report::runs` holds exactly one first run per seed, sorted by seed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::engine::Sim;
use crate::scenario::Scenario;
use crate::trace::Trace;

/// The checker name under which a trace hash mismatch is reported.
pub const NONDETERMINISM: &str = "determinism";
/// Every `RERUN_EVERY`-th seed (from the first) is run twice.
pub const RERUN_EVERY: u64 = 7;
/// At most this many failing seeds outside the sample are re-run to check they reproduce.
const MAX_FAILURE_RERUNS: usize = 50;

/// One run's outcome, without its trace.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub seed: u64,
    /// (checker, message) for each failing checker, in checker order.
    pub failures: Vec<(&'static str, String)>,
    pub trace_hash: u64,
    pub events: u64,
    pub sim_ms: u64,
    /// Wall time this run took on its thread, in seconds.
    pub wall_s: f64,
    /// Leader-loss (or start) to established-leader times, in simulated ms.
    pub elections_ms: Vec<u64>,
}

impl RunResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A seed whose two runs gave different trace hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub seed: u64,
    pub first: u64,
    pub again: u64,
}

/// What a swarm found.
#[derive(Debug)]
pub struct Report {
    pub runs: Vec<RunResult>,
    /// How many seeds were run a second time.
    pub reruns: usize,
    pub mismatches: Vec<Mismatch>,
    pub jobs: usize,
    pub wall_s: f64,
}

impl Report {
    /// Every election time of every run, sorted.
    pub fn elections_ms(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self.runs.iter().flat_map(|r| r.elections_ms.clone()).collect();
        all.sort_unstable();
        all
    }
    /// Seeds that failed a checker, with their failures.
    pub fn failed(&self) -> impl Iterator<Item = &RunResult> {
        self.runs.iter().filter(|r| !r.passed())
    }
    /// Failing runs per checker: (count, first seed), by checker name; non-determinism
    /// is counted under `NONDETERMINISM`.
    pub fn by_checker(&self) -> BTreeMap<&'static str, (usize, u64)> {
        let mut m: BTreeMap<&'static str, (usize, u64)> = BTreeMap::new();
        let hits = self.runs.iter().flat_map(|r| r.failures.iter().map(move |(c, _)| (*c, r.seed)));
        let drift = self.mismatches.iter().map(|m| (NONDETERMINISM, m.seed));
        for (checker, seed) in hits.chain(drift) {
            let e = m.entry(checker).or_insert((0, seed));
            e.0 += 1;
            e.1 = e.1.min(seed);
        }
        m
    }
    /// True when every run passed and every re-run matched.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty() && self.runs.iter().all(RunResult::passed)
    }
    /// Simulated seconds over the first runs.
    pub fn sim_s(&self) -> f64 {
        self.runs.iter().map(|r| r.sim_ms as f64 / 1000.0).sum()
    }
    /// Events processed over the first runs.
    pub fn events(&self) -> u64 {
        self.runs.iter().map(|r| r.events).sum()
    }
    /// Wall seconds the first runs took, summed over threads (one core's worth of time).
    pub fn cpu_s(&self) -> f64 {
        self.runs.iter().map(|r| r.wall_s).sum()
    }
}

/// Runs one seed of `sc` and keeps only what the report needs.
pub fn run_one(sc: Scenario, seed: u64) -> RunResult {
    let start = Instant::now();
    let s = Sim::new(sc, seed, Trace::new(None)).run();
    let failures =
        s.verdicts.into_iter().filter_map(|v| v.failure.map(|f| (v.name, f))).collect::<Vec<_>>();
    RunResult {
        seed,
        failures,
        trace_hash: s.trace_hash,
        events: s.events,
        sim_ms: s.sim_ms,
        wall_s: start.elapsed().as_secs_f64(),
        elections_ms: s.elections_ms,
    }
}

/// Runs `seeds` on `jobs` threads, `scenario_for(seed)` giving each seed's scenario, and
/// re-runs a sample plus the failing seeds. `tick` is called once per finished run (for a
/// progress bar) with the number of failures so far.
pub fn swarm(
    seeds: std::ops::Range<u64>,
    jobs: usize,
    scenario_for: &(dyn Fn(u64) -> Scenario + Sync),
    tick: &(dyn Fn(usize) + Sync),
) -> Report {
    let start = Instant::now();
    let jobs = jobs.max(1);
    let sample: Vec<u64> = seeds.clone().step_by(RERUN_EVERY as usize).collect();
    let mut tasks: Vec<u64> = seeds.collect();
    let first_count = tasks.len();
    tasks.extend(&sample);
    let failures = AtomicUsize::new(0);
    let results = run_tasks(&tasks, jobs, scenario_for, &|r: &RunResult| {
        if !r.passed() {
            failures.fetch_add(1, Ordering::Relaxed);
        }
        tick(failures.load(Ordering::Relaxed));
    });
    let (runs, again) = results.split_at(first_count);
    let mut runs = runs.to_vec();
    let mut again = again.to_vec();
    // Failing seeds outside the sample must reproduce too: that is what the replay line
    // printed for them promises.
    let extra: Vec<u64> = runs
        .iter()
        .filter(|r| !r.passed() && !sample.contains(&r.seed))
        .map(|r| r.seed)
        .take(MAX_FAILURE_RERUNS)
        .collect();
    again
        .extend(run_tasks(&extra, jobs, scenario_for, &|_| tick(failures.load(Ordering::Relaxed))));
    runs.sort_by_key(|r| r.seed);
    let mut mismatches: Vec<Mismatch> = again
        .iter()
        .filter_map(|a| {
            let first = runs.iter().find(|r| r.seed == a.seed).expect("re-runs are of run seeds");
            (first.trace_hash != a.trace_hash).then_some(Mismatch {
                seed: a.seed,
                first: first.trace_hash,
                again: a.trace_hash,
            })
        })
        .collect();
    mismatches.sort_by_key(|m| m.seed);
    Report { runs, reruns: again.len(), mismatches, jobs, wall_s: start.elapsed().as_secs_f64() }
}

/// Runs every seed in `tasks` on `jobs` threads; results come back in task order.
fn run_tasks(
    tasks: &[u64],
    jobs: usize,
    scenario_for: &(dyn Fn(u64) -> Scenario + Sync),
    done: &(dyn Fn(&RunResult) + Sync),
) -> Vec<RunResult> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<RunResult>>> = Mutex::new(vec![None; tasks.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(tasks.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = tasks.get(i) else { break };
                let r = run_one(scenario_for(seed), seed);
                done(&r);
                slots.lock().expect("no thread panics while holding the lock")[i] = Some(r);
            });
        }
    });
    let slots = slots.into_inner().expect("all threads joined");
    slots.into_iter().map(|r| r.expect("every task ran")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_do_not_depend_on_thread_count() {
        let sc = Scenario::parse(
            "name = \"t\"\nduration = \"2s\"\n[[fault]]\nat = \"1s\"\naction = \"crash\"\n\
             [[fault]]\nat = \"1200ms\"\naction = \"restart\"\n",
        )
        .unwrap();
        let one = swarm(3..11, 1, &|_| sc.clone(), &|_| {});
        let three = swarm(3..11, 3, &|_| sc.clone(), &|_| {});
        let hashes = |r: &Report| r.runs.iter().map(|r| (r.seed, r.trace_hash)).collect::<Vec<_>>();
        assert_eq!(hashes(&one), hashes(&three));
        assert_eq!(one.runs.len(), 8);
        assert_eq!(one.reruns, 2, "seeds 3 and 10 are the sample");
        assert!(one.passed() && one.mismatches.is_empty());
    }
}
