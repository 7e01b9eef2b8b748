//! `keeper sim ...`: run one seed, or a swarm of seeds, and print summaries.
//!
//! Wall time is measured here with `Instant`, outside the engine, only to report speed; it
//! never reaches the simulation or its trace.

use std::process::ExitCode;
use std::time::Instant;

use crate::engine::{Sim, Summary};
use crate::scenario::Scenario;
use crate::trace::Trace;

const USAGE: &str = "usage: keeper sim run [SCENARIO.toml] --seed N [--trace FILE]\n       \
                     keeper sim swarm --seeds A..B [SCENARIO.toml]";

/// Entry point of the `sim` subcommand; `args` are the words after `sim`.
pub fn main(args: Vec<String>) -> ExitCode {
    match dispatch(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("keeper sim: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Parsed command-line options shared by `run` and `swarm`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    pub seeds: Option<(u64, u64)>,
    pub trace: Option<String>,
}

/// Parses the options after the command word.
pub fn parse_args(words: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match w.as_str() {
            "--seed" => a.seed = Some(value("--seed")?.parse().map_err(|_| "bad --seed")?),
            "--trace" => a.trace = Some(value("--trace")?),
            "--seeds" => {
                let v = value("--seeds")?;
                let (lo, hi) = v.split_once("..").ok_or("--seeds wants A..B")?;
                let lo = lo.parse().map_err(|_| "bad --seeds start")?;
                let hi = hi.parse().map_err(|_| "bad --seeds end")?;
                if lo >= hi {
                    return Err("--seeds A..B needs A < B".into());
                }
                a.seeds = Some((lo, hi));
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s if a.scenario.is_none() => a.scenario = Some(s.to_string()),
            s => return Err(format!("unexpected argument {s}")),
        }
    }
    Ok(a)
}

fn dispatch(args: &[String]) -> Result<ExitCode, String> {
    let (cmd, rest) = args.split_first().ok_or("missing command")?;
    let a = parse_args(rest)?;
    let sc = load(a.scenario.as_deref())?;
    match cmd.as_str() {
        "run" => {
            let seed = a.seed.ok_or("run needs --seed N")?;
            let sink: Option<Box<dyn std::io::Write>> = match &a.trace {
                Some(path) => Some(Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?,
                ))),
                None => None,
            };
            let start = Instant::now();
            let s = Sim::new(sc, seed, Trace::new(sink)).run();
            print_summary(&s, start.elapsed().as_secs_f64());
            Ok(verdict_exit(&s, a.scenario.as_deref()))
        }
        "swarm" => {
            let (lo, hi) = a.seeds.ok_or("swarm needs --seeds A..B")?;
            Ok(swarm(&sc, lo, hi, a.scenario.as_deref()))
        }
        other => Err(format!("unknown command {other}")),
    }
}

fn load(path: Option<&str>) -> Result<Scenario, String> {
    match path {
        None => Ok(Scenario::default_scenario()),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?;
            Scenario::parse(&text).map_err(|e| format!("{p}: {e}"))
        }
    }
}

/// The one-line command that replays a run.
pub fn replay_command(scenario: Option<&str>, seed: u64) -> String {
    match scenario {
        Some(p) => format!("keeper sim run {p} --seed {seed}"),
        None => format!("keeper sim run --seed {seed}"),
    }
}

fn print_summary(s: &Summary, wall_s: f64) {
    let sim_s = s.sim_ms as f64 / 1000.0;
    let wall = wall_s.max(1e-9);
    println!("seed            {}", s.seed);
    println!("scenario        {}", s.scenario);
    println!("simulated       {sim_s:.3} s");
    println!("events          {} ({:.0}/s)", s.events, s.events as f64 / wall);
    println!("speed           {:.0}x real time", sim_s / wall);
    println!("ops completed   {} of {}", s.ops_completed, s.ops_total);
    for v in &s.verdicts {
        println!("check {:<20} {}", v.name, v.failure.as_deref().unwrap_or("ok"));
    }
    println!("trace hash      {:016x}", s.trace_hash);
}

fn verdict_exit(s: &Summary, scenario: Option<&str>) -> ExitCode {
    if s.passed() {
        ExitCode::SUCCESS
    } else {
        println!("FAILED; replay with: {}", replay_command(scenario, s.seed));
        ExitCode::from(1)
    }
}

/// Runs seeds `lo..hi` one after another, then re-runs a sample and compares trace hashes;
/// a hash mismatch is reported as a failure of its own (non-determinism).
fn swarm(sc: &Scenario, lo: u64, hi: u64, scenario: Option<&str>) -> ExitCode {
    let start = Instant::now();
    let mut failed = Vec::new();
    let mut hashes = Vec::new();
    println!("{:>10}  {:>8}  {:>7}  {:<16}  result", "seed", "events", "ops", "trace hash");
    for seed in lo..hi {
        let s = Sim::new(sc.clone(), seed, Trace::new(None)).run();
        let first_failure = s.verdicts.iter().find_map(|v| v.failure.as_ref().map(|f| (v.name, f)));
        let result = first_failure.map_or("ok".to_string(), |(n, f)| format!("FAIL {n}: {f}"));
        println!(
            "{seed:>10}  {:>8}  {:>7}  {:016x}  {result}",
            s.events, s.ops_completed, s.trace_hash
        );
        if !s.passed() {
            failed.push(seed);
        }
        hashes.push((seed, s.trace_hash));
    }
    // Re-run every seventh seed (at least one) to catch non-determinism.
    let mut nondeterministic = Vec::new();
    for (seed, hash) in hashes.iter().step_by(7) {
        let again = Sim::new(sc.clone(), *seed, Trace::new(None)).run().trace_hash;
        if again != *hash {
            nondeterministic.push(*seed);
        }
    }
    let n = hi - lo;
    println!(
        "{n} seeds in {:.2}s: {} passed, {} failed, {} non-deterministic",
        start.elapsed().as_secs_f64(),
        n - failed.len() as u64,
        failed.len(),
        nondeterministic.len()
    );
    for seed in &failed {
        println!("  replay: {}", replay_command(scenario, *seed));
    }
    for seed in &nondeterministic {
        println!("  NON-DETERMINISTIC seed {seed}: {}", replay_command(scenario, *seed));
    }
    if failed.is_empty() && nondeterministic.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
