//! `keeper bench`: a closed-loop load generator over the ZooKeeper client protocol.
//!
//! `keeper bench --servers a:2181,b:2181 --sessions 16 --depth 8 --workload mixed
//! --read-pct 90 --payload 100 --keys 10000 --warmup 2 --duration 10` opens the sessions
//! round-robin over the servers, creates the key znodes under `--prefix`, runs the workload
//! and prints a table, then the same figures as one JSON line (last line of stdout).
//! `--rate R` makes it an open loop at R requests per second (the same offered load for
//! every server, so their latencies compare). `--probe` instead waits until a server answers and prints how long that took (restart
//! timing); `--probe --write` waits for a successful write instead (failover timing). It works against any ZooKeeper server: nothing keeper-specific is spoken.
//!
//! Invariant: options are checked before any connection is made; a bad value is a usage
//! error (exit 2) naming the option, never a panic. Modules: `workload` (what a request
//! is), `run` (the closed loop), `report` (histograms, table, JSON), `cpu` (server CPU
//! time with `--server-pid`).

pub mod cpu;
pub mod report;
pub mod run;
pub mod workload;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use run::Plan;
use workload::{Spec, Workload};

/// Entry point: `args` are the words after `keeper bench`.
pub fn main(args: Vec<String>) -> ExitCode {
    let argv = std::iter::once("keeper bench".to_string()).chain(args);
    let opts = match Opts::try_parse_from(argv) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let plan = match opts.plan() {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("keeper bench: {msg}");
            return ExitCode::from(2);
        }
    };
    // One thread: every session on the calling thread, no worker to park and wake
    // (context switches were the largest item in the load generator's profile).
    let mut builder = if opts.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(opts.threads);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keeper bench: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if opts.probe {
        return match runtime.block_on(run::probe(&plan.servers, plan.duration, opts.write)) {
            Ok(took) => {
                println!("{}", serde_json::json!({ "probe": "ok", "ms": took.as_millis() as u64 }));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("keeper bench --probe: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(run::run(&plan)) {
        Ok(report) => {
            if !opts.json_only {
                print!("{}", report.table());
            }
            println!("{}", report.json());
            let lost = report.tally.errors.contains_key("ConnectionLoss");
            if lost || report.ops() == 0 {
                eprintln!("keeper bench: the run lost a connection or completed no request");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("keeper bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line (see the module doc for an example).
#[derive(Parser, Debug)]
#[command(
    about = "Closed-loop load generator over the ZooKeeper client protocol",
    allow_negative_numbers = true
)]
struct Opts {
    /// Servers, comma-separated host:port; sessions are spread over them round-robin.
    #[arg(long, default_value = "127.0.0.1:2181")]
    servers: String,
    /// Sessions (one TCP connection each).
    #[arg(long, default_value_t = 8)]
    sessions: usize,
    /// Requests in flight per session (pipelining depth).
    #[arg(long, default_value_t = 1)]
    depth: usize,
    /// get | exists | set | create | delete | mixed | load.
    #[arg(long, default_value = "get")]
    workload: String,
    /// Share of reads (getData) in the mixed workload, in percent.
    #[arg(long, default_value_t = 90)]
    read_pct: u32,
    /// Bytes of data per setData/create.
    #[arg(long, default_value_t = 100)]
    payload: usize,
    /// Key znodes the workload spreads over (created first unless --no-setup).
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
    /// Parent znode of everything the benchmark creates.
    #[arg(long, default_value = "/keeper-bench")]
    prefix: String,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds measured (with --probe: how long to wait for a server).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many requests in all (warm-up included).
    #[arg(long)]
    ops: Option<u64>,
    /// Do not create the prefix and keys (they exist from an earlier run).
    #[arg(long)]
    no_setup: bool,
    /// Session timeout asked of the server, in ms.
    #[arg(long, default_value_t = 30_000)]
    session_timeout_ms: u64,
    /// Client runtime threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Offered load in requests per second over all workers (0: closed loop, as fast as
    /// the server answers). Each of the sessions x depth workers is due every
    /// workers/rate seconds; a request the server made late is timed from when it was due.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Local server processes (comma-separated PIDs) whose CPU time over the measured
    /// window is reported as `server_cpu_s` and `server_cpu_us_per_op` (from /proc).
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// Print only the JSON line.
    #[arg(long)]
    json_only: bool,
    /// Wait until a server answers `exists /`; print {"probe":"ok","ms":N}.
    #[arg(long)]
    probe: bool,
    /// With --probe: wait for a successful write (an ephemeral sequential create under
    /// `/`) instead of a read, as a failover measurement needs.
    #[arg(long, requires = "probe")]
    write: bool,
}

impl Opts {
    fn plan(&self) -> Result<Plan, String> {
        let servers: Vec<String> = self
            .servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if servers.is_empty() {
            return Err("--servers names no server".into());
        }
        if let Some(bad) = servers.iter().find(|s| s.rsplit_once(':').is_none()) {
            return Err(format!("--servers: {bad:?} is not host:port"));
        }
        let positive = |name: &str, v: usize| {
            if v == 0 {
                Err(format!("--{name} must be at least 1"))
            } else {
                Ok(v)
            }
        };
        positive("sessions", self.sessions)?;
        positive("depth", self.depth)?;
        positive("threads", self.threads)?;
        if self.keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if self.read_pct > 100 {
            return Err(format!("--read-pct {} is above 100", self.read_pct));
        }
        if self.payload > keeper_core::limits::DEFAULT_MAX_BUFFER_BYTES {
            return Err(format!("--payload {} is above jute.maxbuffer", self.payload));
        }
        if !self.prefix.starts_with('/') || self.prefix.len() < 2 || self.prefix.ends_with('/') {
            return Err(format!("--prefix {:?} must be an absolute znode path", self.prefix));
        }
        let seconds = |name: &str, v: f64| {
            if v.is_finite() && (0.0..=86_400.0).contains(&v) {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(format!("--{name} {v} is not a number of seconds in 0..86400"))
            }
        };
        cpu::cpu_seconds(&self.server_pid)?; // an unreadable PID is a usage error
        if !(self.rate.is_finite() && (0.0..=10_000_000.0).contains(&self.rate)) {
            return Err(format!("--rate {} is not a rate in 0..10000000 per second", self.rate));
        }
        let workers = (self.sessions * self.depth) as f64;
        let interval = (self.rate > 0.0).then(|| Duration::from_secs_f64(workers / self.rate));
        let spec = Spec {
            workload: Workload::parse(&self.workload)?,
            read_pct: self.read_pct,
            keys: self.keys,
            prefix: self.prefix.clone(),
        };
        Ok(Plan {
            servers,
            sessions: self.sessions,
            depth: self.depth,
            spec,
            payload_bytes: self.payload,
            warmup: seconds("warmup", self.warmup)?,
            duration: seconds("duration", self.duration)?,
            ops_limit: self.ops,
            setup: !self.no_setup,
            session_timeout: Duration::from_millis(self.session_timeout_ms),
            server_pids: self.server_pid.clone(),
            interval,
        })
    }
}
