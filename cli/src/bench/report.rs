//! What a benchmark run measured, and its two renderings: a table for people and one JSON
//! line for scripts (`bench/compare` reads the JSON).
//!
//! Invariant: every latency figure comes from one merged HDR histogram of per-request
//! latencies in microseconds (3 significant digits), counting only requests that started
//! after the warm-up; `ops_per_s` divides those same requests by the measured window.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::json;

/// The slowest latency a histogram holds exactly (60 s); slower ones saturate at it.
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// A new latency histogram (1 µs .. 60 s, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static bounds are valid")
}

/// What one worker measured; merged into a [`Report`].
pub struct Tally {
    pub latency_us: Histogram<u64>,
    pub reads: u64,
    pub writes: u64,
    /// Errors by name (ZooKeeper error names, or "connectionloss"/"protocol").
    pub errors: BTreeMap<String, u64>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Tally {
        Tally { latency_us: new_histogram(), reads: 0, writes: 0, errors: BTreeMap::new() }
    }

    /// Adds another worker's counts to this one.
    pub fn merge(&mut self, other: &Tally) {
        self.latency_us.add(&other.latency_us).expect("histograms share their bounds");
        self.reads += other.reads;
        self.writes += other.writes;
        for (name, n) in &other.errors {
            *self.errors.entry(name.clone()).or_default() += n;
        }
    }
}

/// The settings a run was made with, echoed in the report so a JSON line stands alone.
#[derive(Clone, Debug)]
pub struct Settings {
    pub workload: &'static str,
    pub servers: Vec<String>,
    pub sessions: usize,
    pub depth: usize,
    pub read_pct: u32,
    pub payload_bytes: usize,
    pub keys: u64,
    /// Offered requests per second (`--rate`), or None for a closed loop.
    pub rate: Option<f64>,
}

/// One run's results.
pub struct Report {
    pub settings: Settings,
    /// The measured window: from the end of the warm-up to the last completion.
    pub window: Duration,
    pub tally: Tally,
    /// CPU seconds the `--server-pid` processes used over the window, when asked.
    pub server_cpu_s: Option<f64>,
}

impl Report {
    /// Completed requests in the window (errors included: they are answers too).
    pub fn ops(&self) -> u64 {
        self.tally.latency_us.len()
    }

    /// Completed requests per second over the window.
    pub fn ops_per_s(&self) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs <= 0.0 {
            0.0
        } else {
            self.ops() as f64 / secs
        }
    }

    fn quantile_us(&self, q: f64) -> u64 {
        self.tally.latency_us.value_at_quantile(q)
    }

    /// The report as one JSON object (printed on one line).
    pub fn json(&self) -> serde_json::Value {
        let s = &self.settings;
        let h = &self.tally.latency_us;
        json!({
            "workload": s.workload,
            "servers": s.servers.join(","),
            "sessions": s.sessions,
            "depth": s.depth,
            "read_pct": s.read_pct,
            "payload_bytes": s.payload_bytes,
            "keys": s.keys,
            "rate": s.rate,
            "window_s": round3(self.window.as_secs_f64()),
            "ops": self.ops(),
            "reads": self.tally.reads,
            "writes": self.tally.writes,
            "errors": self.tally.errors.values().sum::<u64>(),
            "error_kinds": self.tally.errors,
            "ops_per_s": round3(self.ops_per_s()),
            "mean_us": round3(h.mean()),
            "p50_us": self.quantile_us(0.50),
            "p99_us": self.quantile_us(0.99),
            "p999_us": self.quantile_us(0.999),
            "max_us": h.max(),
            "server_cpu_s": self.server_cpu_s.map(round3),
            "server_cpu_us_per_op": self.server_cpu_us_per_op().map(round3),
        })
    }

    /// Server CPU microseconds per completed request, when `--server-pid` was given.
    pub fn server_cpu_us_per_op(&self) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (self.ops() > 0).then(|| cpu * 1e6 / self.ops() as f64)
    }

    /// The report as a small table for a terminal.
    pub fn table(&self) -> String {
        let s = &self.settings;
        let mut out = String::new();
        out.push_str(&format!(
            "workload {} ({}% reads) | {} sessions x depth {} over {} | {} B payload, {} keys\n",
            s.workload,
            read_share(s),
            s.sessions,
            s.depth,
            s.servers.join(","),
            s.payload_bytes,
            s.keys
        ));
        out.push_str(&format!(
            "{:>12} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10}\n",
            "ops/s", "ops", "errors", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
        ));
        let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
        out.push_str(&format!(
            "{:>12.0} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10}\n",
            self.ops_per_s(),
            self.ops(),
            self.tally.errors.values().sum::<u64>(),
            ms(self.quantile_us(0.50)),
            ms(self.quantile_us(0.99)),
            ms(self.quantile_us(0.999)),
            ms(self.tally.latency_us.max()),
        ));
        if let (Some(cpu), Some(per_op)) = (self.server_cpu_s, self.server_cpu_us_per_op()) {
            out.push_str(&format!("  server CPU {cpu:.2} s, {per_op:.1} us per request\n"));
        }
        for (name, n) in &self.tally.errors {
            out.push_str(&format!("  error {name}: {n}\n"));
        }
        out
    }
}

fn read_share(s: &Settings) -> u32 {
    match s.workload {
        "get" | "exists" => 100,
        "mixed" => s.read_pct,
        _ => 0,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(latencies_us: &[u64], window_ms: u64) -> Report {
        let mut tally = Tally::new();
        for &us in latencies_us {
            tally.latency_us.saturating_record(us);
            tally.reads += 1;
        }
        tally.errors.insert("NoNode".into(), 2);
        let settings = Settings {
            workload: "get",
            servers: vec!["127.0.0.1:2181".into()],
            sessions: 2,
            depth: 4,
            read_pct: 90,
            payload_bytes: 100,
            keys: 10,
            rate: None,
        };
        Report { settings, window: Duration::from_millis(window_ms), tally, server_cpu_s: None }
    }

    /// The JSON line carries every field `bench/compare` reads, with consistent values.
    #[test]
    fn json_has_the_fields_scripts_read() {
        let r = report(&[100, 200, 300, 400, 10_000], 500);
        let v = r.json();
        assert_eq!(v["ops"], 5);
        assert_eq!(v["ops_per_s"], 10.0);
        assert_eq!(v["errors"], 2);
        assert_eq!(v["max_us"].as_u64().unwrap(), r.tally.latency_us.max());
        assert!(v["p50_us"].as_u64().unwrap() >= 299 && v["p50_us"].as_u64().unwrap() <= 301);
        assert!(v["p99_us"].as_u64().unwrap() >= 9_990);
        let line = v.to_string();
        assert!(!line.contains('\n'));
        assert!(r.table().contains("error NoNode: 2"));
    }

    /// Server CPU per request is the window's CPU over its requests, and absent unless
    /// measured.
    #[test]
    fn server_cpu_per_request_when_measured() {
        let mut r = report(&[100, 200, 300, 400], 500);
        assert!(r.json()["server_cpu_us_per_op"].is_null());
        r.server_cpu_s = Some(0.002);
        assert_eq!(r.json()["server_cpu_us_per_op"], 500.0);
        assert!(r.table().contains("server CPU 0.00 s, 500.0 us per request"), "{}", r.table());
    }

    /// A run that measured nothing reports zero rather than dividing by zero.
    #[test]
    fn empty_window_is_zero_throughput() {
        let r = report(&[], 0);
        assert_eq!(r.ops_per_s(), 0.0);
        assert_eq!(r.json()["ops"], 0);
    }
}
