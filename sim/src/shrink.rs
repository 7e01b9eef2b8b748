//! Shrink: reduce a failing (scenario, seed) to a smaller scenario that, with the same seed,
//! still fails the same checker, so that a person reads three faults instead of thirty.
//!
//! Passes, repeated until none makes progress: delta debugging over the fault schedule
//! (Zeller's ddmin, complements only: drop chunks, halving the chunk size), then the run's
//! duration, then the workload (rate, then each kind of op), then the client count, then the
//! model settings (drift, snapshots, torn tails, latency). A candidate is kept only if it
//! still fails the target checker.
//!
//! Invariants: deterministic (every run is, and candidates are tried in a fixed order);
//! never larger than the input in any measure; bounded by `max_runs` simulations. The
//! engine's per-concern RNG streams are what make this work: removing a fault leaves the
//! clients' and disks' draws unchanged, so the rest of the run stays recognisable.

use crate::scenario::{parse_duration_ms, Scenario};
use crate::swarm::run_one;

/// The result of a shrink.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub scenario: Scenario,
    pub seed: u64,
    pub checker: &'static str,
    /// The target checker's message on the shrunk scenario.
    pub failure: String,
    /// Simulations run, the first (the original) included.
    pub runs: u64,
}

/// How big a scenario is, in the measures the shrinker reduces (for reports and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size {
    pub faults: usize,
    pub duration_ms: u64,
    pub ops_per_sec: u32,
    pub clients: u32,
}

impl Size {
    pub fn of(sc: &Scenario) -> Size {
        Size {
            faults: sc.faults.len(),
            duration_ms: sc.duration_ms(),
            ops_per_sec: sc.workload.ops_per_sec,
            clients: sc.workload.clients,
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} faults, {}ms, {} ops/s, {} clients",
            self.faults, self.duration_ms, self.ops_per_sec, self.clients
        )
    }
}

/// Shrinks `sc` at `seed`. `checker` names the failure to keep (default: the first
/// failing checker of the original run). Errors if the original run does not fail it.
pub fn shrink(
    sc: &Scenario,
    seed: u64,
    checker: Option<&str>,
    max_runs: u64,
) -> Result<Shrunk, String> {
    let first = run_one(sc.clone(), seed);
    let target = match checker {
        Some(name) => first.failures.iter().find(|(c, _)| *c == name),
        None => first.failures.first(),
    };
    let Some((checker, failure)) = target.cloned() else {
        let wanted = checker.map_or("any checker".to_string(), |c| format!("checker {c}"));
        return Err(format!(
            "seed {seed} of {} does not fail {wanted}: nothing to shrink",
            sc.name
        ));
    };
    let mut s = Shrinker { seed, checker, runs: 1, max_runs, best: sc.clone(), failure };
    loop {
        let before = s.best.clone();
        s.faults();
        s.duration();
        s.workload();
        s.clients();
        s.settings();
        if s.best == before || s.runs >= max_runs {
            break;
        }
    }
    let mut scenario = s.best;
    if !scenario.name.ends_with("-shrunk") {
        scenario.name = format!("{}-shrunk", scenario.name);
    }
    Ok(Shrunk { scenario, seed, checker, failure: s.failure, runs: s.runs })
}

/// The shrunk scenario as a file: a comment saying where it came from, then the TOML.
pub fn to_file(shrunk: &Shrunk, source: &str) -> String {
    let msg: String = shrunk.failure.chars().take(300).collect();
    format!(
        "# Shrunk by `keeper sim shrink` from {source} --seed {seed} ({runs} runs).\n\
         # With --seed {seed} it still fails checker {checker}:\n#   {msg}\n\
         # Replay: keeper sim run FILE --seed {seed}\n{toml}",
        seed = shrunk.seed,
        runs = shrunk.runs,
        checker = shrunk.checker,
        toml = shrunk.scenario.to_toml(),
    )
}

struct Shrinker {
    seed: u64,
    checker: &'static str,
    runs: u64,
    max_runs: u64,
    best: Scenario,
    failure: String,
}

impl Shrinker {
    /// Runs `cand`; keeps it as the best if it still fails the target checker.
    fn try_keep(&mut self, cand: Scenario) -> bool {
        if self.runs >= self.max_runs || Scenario::parse(&cand.to_toml()).is_err() {
            return false;
        }
        self.runs += 1;
        let r = run_one(cand.clone(), self.seed);
        match r.failures.into_iter().find(|(c, _)| *c == self.checker) {
            Some((_, f)) => {
                self.best = cand;
                self.failure = f;
                true
            }
            None => false,
        }
    }

    /// ddmin over the fault schedule, complements only.
    fn faults(&mut self) {
        let mut n = 2;
        while !self.best.faults.is_empty() && self.runs < self.max_runs {
            let len = self.best.faults.len();
            let chunk = len.div_ceil(n.min(len));
            let mut reduced = false;
            for start in (0..len).step_by(chunk) {
                let mut cand = self.best.clone();
                cand.faults.drain(start..(start + chunk).min(len));
                if self.try_keep(cand) {
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if chunk == 1 {
                    break;
                }
                n = (n * 2).min(len);
            }
        }
    }

    /// The shortest duration (in 100ms steps, not before the last fault ends) that still
    /// fails, by bisection.
    fn duration(&mut self) {
        let mut hi = self.best.duration_ms();
        let mut lo = self.best.last_fault_end_ms().max(100);
        while hi > lo + 100 {
            let mid = (lo + (hi - lo) / 2).div_ceil(100) * 100;
            let mut cand = self.best.clone();
            cand.duration = format!("{mid}ms");
            if mid < hi && self.try_keep(cand) {
                hi = mid;
            } else {
                lo = mid;
            }
            if self.runs >= self.max_runs {
                break;
            }
        }
    }

    fn workload(&mut self) {
        // The rate, by bisection down to 1 op/s.
        let (mut lo, mut hi) = (0, self.best.workload.ops_per_sec);
        while hi > lo + 1 && self.runs < self.max_runs {
            let mid = lo + (hi - lo) / 2;
            let mut cand = self.best.clone();
            cand.workload.ops_per_sec = mid.max(1);
            if self.try_keep(cand) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        // Each kind of op the failure does not need.
        for i in 0..self.best.workload.mix.weights().len() {
            if self.best.workload.mix.weights()[i] == 0 {
                continue;
            }
            let mut cand = self.best.clone();
            *cand.workload.mix.weights_mut()[i] = 0;
            if cand.workload.mix.weights().iter().any(|w| *w > 0) {
                self.try_keep(cand);
            }
        }
    }

    fn clients(&mut self) {
        let (mut lo, mut hi) = (0, self.best.workload.clients);
        while hi > lo + 1 && self.runs < self.max_runs {
            let mid = lo + (hi - lo) / 2;
            let mut cand = self.best.clone();
            cand.workload.clients = mid.max(1);
            if self.try_keep(cand) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
    }

    /// Model settings back to their plainest values, one at a time.
    fn settings(&mut self) {
        for cand in self.plainer() {
            self.try_keep(cand);
        }
    }

    /// Candidates that each make one setting plainer than it is in `best`.
    fn plainer(&self) -> Vec<Scenario> {
        let b = &self.best;
        let mut out = Vec::new();
        let mut with = |f: &dyn Fn(&mut Scenario)| {
            let mut c = b.clone();
            f(&mut c);
            if c != *b {
                out.push(c);
            }
        };
        with(&|c| c.clock_drift.clear());
        with(&|c| c.snap_count = None);
        with(&|c| c.disk.torn_tail = false);
        with(&|c| c.network.latency_ms = [1, 1]);
        with(&|c| c.disk.fsync_ms = [1, 1]);
        // Shorter faults: durations halved, down to 100ms.
        with(&|c| {
            for f in &mut c.faults {
                if let Some(d) = f.duration.as_deref().and_then(|d| parse_duration_ms(d).ok()) {
                    f.duration = Some(format!("{}ms", (d / 2).max(100)));
                }
            }
        });
        out
    }
}
