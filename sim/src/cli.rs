//! `keeper sim ...`: run one seed, a swarm of seeds, shrink a failure, draw a trace.
//!
//! Wall time is measured here with `Instant`, outside the engine, only to report speed; it
//! never reaches the simulation or its trace. The swarm's last line is a stable
//! `key=value` summary for scripts (`tail -n 1`), and every failing command exits non-zero.

use std::process::ExitCode;
use std::time::Instant;

use crate::engine::{Sim, Summary};
use crate::scenario::Scenario;
use crate::swarm::{self, Report};
use crate::trace::Trace;
use crate::{random, shrink, view};

const USAGE: &str = "usage: keeper sim run [SCENARIO.toml] [--random] --seed N [--trace FILE]
       keeper sim swarm --seeds A..B [SCENARIO.toml] [--random] [--jobs N] [--verbose]
       keeper sim shrink [SCENARIO.toml] [--random] --seed N [--out FILE] [--checker NAME]
                         [--max-runs N]
       keeper sim view TRACE.jsonl --html OUT.html
       keeper sim print [SCENARIO.toml] [--random --seed N]
       keeper sim check-history HISTORY.jsonl   (a history recorded on real processes)
--random draws each seed's workload, models and faults from the seed (SCENARIO, if given,
is the base: its node count, tick and planted bugs are kept).";

/// Simulations one shrink may run unless `--max-runs` says otherwise.
const DEFAULT_MAX_RUNS: u64 = 400;

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

/// Parsed command-line options shared by the commands.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// The positional argument: a scenario file (a trace file for `view`).
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    pub seeds: Option<(u64, u64)>,
    pub trace: Option<String>,
    pub random: bool,
    pub jobs: Option<usize>,
    pub verbose: bool,
    pub out: Option<String>,
    pub html: Option<String>,
    pub checker: Option<String>,
    pub max_runs: Option<u64>,
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
            "--out" => a.out = Some(value("--out")?),
            "--html" => a.html = Some(value("--html")?),
            "--checker" => a.checker = Some(value("--checker")?),
            "--random" => a.random = true,
            "--verbose" | "-v" => a.verbose = true,
            "--jobs" | "-j" => {
                let n: usize = value("--jobs")?.parse().map_err(|_| "bad --jobs")?;
                a.jobs = Some(n.max(1));
            }
            "--max-runs" => {
                a.max_runs = Some(value("--max-runs")?.parse().map_err(|_| "bad --max-runs")?)
            }
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

/// Where each seed's scenario comes from: a file (or the built-in default), or drawn at
/// random from the seed on top of that base.
pub struct Source {
    pub path: Option<String>,
    pub base: Scenario,
    pub random: bool,
}

impl Source {
    pub fn load(path: Option<&str>, random: bool) -> Result<Source, String> {
        let base = match path {
            None => Scenario::default_scenario(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?;
                Scenario::parse(&text).map_err(|e| format!("{p}: {e}"))?
            }
        };
        Ok(Source { path: path.map(str::to_string), base, random })
    }
    /// The scenario seed `seed` runs.
    pub fn scenario(&self, seed: u64) -> Scenario {
        if self.random && self.path.is_none() {
            random::scenario(&random::shape(&self.base, seed), seed)
        } else if self.random {
            random::scenario(&self.base, seed)
        } else {
            self.base.clone()
        }
    }
    /// The one-line command that replays seed `seed`.
    pub fn replay(&self, seed: u64) -> String {
        replay_command(self.path.as_deref(), self.random, seed)
    }
    fn describe(&self) -> String {
        let file = self.path.clone().unwrap_or_else(|| "the built-in default".into());
        if self.random {
            format!("random scenarios on {file}")
        } else {
            file
        }
    }
}

/// The one-line command that replays a run.
pub fn replay_command(scenario: Option<&str>, random: bool, seed: u64) -> String {
    let mut cmd = "keeper sim run".to_string();
    if let Some(p) = scenario {
        cmd = format!("{cmd} {p}");
    }
    if random {
        cmd.push_str(" --random");
    }
    format!("{cmd} --seed {seed}")
}

fn dispatch(args: &[String]) -> Result<ExitCode, String> {
    let (cmd, rest) = args.split_first().ok_or("missing command")?;
    let a = parse_args(rest)?;
    if cmd == "view" {
        return view_cmd(&a);
    }
    if cmd == "check-history" {
        let path = a.scenario.as_deref().ok_or("check-history needs a history file")?;
        return Ok(crate::recorded::check_cmd(path));
    }
    let src = Source::load(a.scenario.as_deref(), a.random)?;
    match cmd.as_str() {
        "run" => run_cmd(&a, &src),
        "swarm" => {
            let (lo, hi) = a.seeds.ok_or("swarm needs --seeds A..B")?;
            Ok(swarm_cmd(&src, lo..hi, &a))
        }
        "shrink" => shrink_cmd(&a, &src),
        "print" => {
            print!("{}", src.scenario(a.seed.unwrap_or(0)).to_toml());
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command {other}")),
    }
}

fn run_cmd(a: &Args, src: &Source) -> Result<ExitCode, String> {
    let seed = a.seed.ok_or("run needs --seed N")?;
    let sink: Option<Box<dyn std::io::Write>> = match &a.trace {
        Some(path) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?,
        ))),
        None => None,
    };
    let start = Instant::now();
    let s = Sim::new(src.scenario(seed), seed, Trace::new(sink)).run();
    print_summary(&s, start.elapsed().as_secs_f64());
    if s.passed() {
        Ok(ExitCode::SUCCESS)
    } else {
        println!("FAILED; replay with: {}", src.replay(seed));
        Ok(ExitCode::from(1))
    }
}

fn print_summary(s: &Summary, wall_s: f64) {
    let sim_s = s.sim_ms as f64 / 1000.0;
    let wall = wall_s.max(1e-9);
    println!("seed            {}", s.seed);
    println!("scenario        {}", s.scenario);
    println!("simulated       {sim_s:.3} s in {wall_s:.3} s wall");
    println!("events          {} ({:.0}/s)", s.events, s.events as f64 / wall);
    println!("speed           {:.0}x real time", sim_s / wall);
    println!("ops completed   {} of {}", s.ops_completed, s.ops_total);
    for v in &s.verdicts {
        println!("check {:<20} {}", v.name, v.failure.as_deref().unwrap_or("ok"));
    }
    if !s.elections_ms.is_empty() {
        let times: Vec<String> = s.elections_ms.iter().map(|t| format!("{t}ms")).collect();
        println!("elections       {}", times.join(" "));
    }
    if s.regrown_appends > 0 {
        println!("regrown         {} appends over a truncated suffix", s.regrown_appends);
    }
    println!("trace hash      {:016x}", s.trace_hash);
}

/// The value at quantile `q` of sorted `v`.
fn quantile(v: &[u64], q: f64) -> u64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn swarm_cmd(src: &Source, seeds: std::ops::Range<u64>, a: &Args) -> ExitCode {
    let jobs =
        a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let total = (seeds.end - seeds.start) + (seeds.end - seeds.start).div_ceil(swarm::RERUN_EVERY);
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} runs, {msg} [{elapsed_precise} < {eta}]",
    ) {
        bar.set_style(style);
    }
    let report = swarm::swarm(seeds.clone(), jobs, &|seed| src.scenario(seed), &|failed| {
        bar.set_message(format!("{failed} failed"));
        bar.inc(1);
    });
    bar.finish_and_clear();
    if a.verbose {
        println!("{:>10}  {:>8}  {:<16}  result", "seed", "events", "trace hash");
        for r in &report.runs {
            let result = r.failures.first().map_or("ok".into(), |(c, f)| format!("FAIL {c}: {f}"));
            println!("{:>10}  {:>8}  {:016x}  {result}", r.seed, r.events, r.trace_hash);
        }
    }
    print_report(src, &seeds, &report);
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_report(src: &Source, seeds: &std::ops::Range<u64>, r: &Report) {
    let failed = r.failed().count();
    let wall = r.wall_s.max(1e-9);
    println!(
        "swarm of {}, seeds {}..{} on {} threads",
        src.describe(),
        seeds.start,
        seeds.end,
        r.jobs
    );
    println!(
        "  runs              {} (+{} re-runs to compare trace hashes)",
        r.runs.len(),
        r.reruns
    );
    println!("  passed            {}", r.runs.len() - failed);
    println!("  failed            {failed}");
    println!("  non-deterministic {}", r.mismatches.len());
    let el = r.elections_ms();
    if !el.is_empty() {
        println!(
            "  elections         {} (leader lost or start to established): median {} ms, p99 {} ms, max {} ms",
            el.len(),
            quantile(&el, 0.5),
            quantile(&el, 0.99),
            el[el.len() - 1]
        );
    }
    for (checker, (count, first)) in r.by_checker() {
        println!("    {checker:<24} {count:>5} runs (first: seed {first})");
    }
    println!(
        "  simulated         {:.1} s in {:.2} s wall: {:.0}x real time ({:.0}x per thread)",
        r.sim_s(),
        r.wall_s,
        r.sim_s() / wall,
        r.sim_s() / r.cpu_s().max(1e-9)
    );
    println!("  events            {} ({:.0}/s)", r.events(), r.events() as f64 / wall);
    if failed > 0 || !r.mismatches.is_empty() {
        println!("failures (each line replays one):");
    }
    for run in r.failed() {
        let (checker, msg) = &run.failures[0];
        let msg: String = msg.chars().take(160).collect();
        println!("  {}    # {checker}: {msg}", src.replay(run.seed));
    }
    for m in &r.mismatches {
        println!(
            "  {}    # {}: trace hash {:016x} then {:016x}",
            src.replay(m.seed),
            swarm::NONDETERMINISM,
            m.first,
            m.again
        );
    }
    println!(
        "swarm result={} scenario={} random={} seeds={}..{} runs={} passed={} failed={failed} \
         nondeterministic={} sim_s={:.1} wall_s={:.2} speed={:.0} events_per_s={:.0}",
        if r.passed() { "pass" } else { "FAIL" },
        src.base.name,
        src.random,
        seeds.start,
        seeds.end,
        r.runs.len(),
        r.runs.len() - failed,
        r.mismatches.len(),
        r.sim_s(),
        r.wall_s,
        r.sim_s() / wall,
        r.events() as f64 / wall,
    );
}

fn shrink_cmd(a: &Args, src: &Source) -> Result<ExitCode, String> {
    let seed = a.seed.ok_or("shrink needs --seed N")?;
    let sc = src.scenario(seed);
    let max_runs = a.max_runs.unwrap_or(DEFAULT_MAX_RUNS);
    let start = Instant::now();
    let shrunk = match shrink::shrink(&sc, seed, a.checker.as_deref(), max_runs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("keeper sim shrink: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let before = shrink::Size::of(&sc);
    let after = shrink::Size::of(&shrunk.scenario);
    let file = shrink::to_file(&shrunk, &src.describe());
    println!("checker   {}: {}", shrunk.checker, shrunk.failure);
    println!("before    {before}");
    println!("after     {after}");
    println!("runs      {} in {:.2} s", shrunk.runs, start.elapsed().as_secs_f64());
    match &a.out {
        Some(path) => {
            std::fs::write(path, &file).map_err(|e| format!("{path}: {e}"))?;
            println!("wrote     {path}; replay: keeper sim run {path} --seed {seed}");
        }
        None => print!("{file}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn view_cmd(a: &Args) -> Result<ExitCode, String> {
    let trace = a.scenario.as_deref().ok_or("view needs a TRACE file")?;
    let out = a.html.as_deref().ok_or("view needs --html OUT")?;
    let text = std::fs::read_to_string(trace).map_err(|e| format!("{trace}: {e}"))?;
    let html = view::render(&text).map_err(|e| format!("{trace}: {e}"))?;
    std::fs::write(out, html).map_err(|e| format!("{out}: {e}"))?;
    println!("wrote {out}");
    Ok(ExitCode::SUCCESS)
}
