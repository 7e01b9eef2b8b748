//! The `monitor` command's figures and their Prometheus rendering (`/metrics`).
//!
//! One [`Monitor`] is read per request: the node's counters (through its task) plus the
//! shell's. `/commands/monitor` prints it as ZooKeeper's `mntr` JSON (summaries as
//! `avg_`/`min_`/`max_`/`cnt_`/`sum_` keys); `/metrics` prints the same names in the
//! Prometheus text format 0.0.4 as ZooKeeper's PrometheusMetricsProvider does: every
//! numeric figure a gauge, `fsynctime`/`snapshottime`/`election_time` summaries with a
//! 0.5 quantile plus `_count` and `_sum` (in ms, ZooKeeper's unit), and the standard
//! `process_*` metrics in place of the JVM's. Invariant: a metric name appears in exactly
//! one family, and every family has its `# HELP` and `# TYPE` lines before its samples.

use std::fmt::Write as _;

use hyper::StatusCode;
use serde_json::{Map, Value};

use super::commands::round4;
use super::{process, Reply, Sources};
use crate::stats::Summary;

/// A figure of the `monitor` command.
#[derive(Clone, Debug, PartialEq)]
pub enum Figure {
    Int(i64),
    Float(f64),
    Text(String),
}

/// Everything `monitor` and `/metrics` report, in ZooKeeper's `mntr` order.
#[derive(Clone, Debug)]
pub struct Monitor {
    pub figures: Vec<(&'static str, Figure)>,
    pub summaries: Vec<(&'static str, Summary)>,
    /// The fsync summary also becomes a histogram on `/metrics` (seconds, cumulative).
    pub fsync: Summary,
}

/// Reads the node and the shell's statistics; `None` when the node task has stopped.
pub async fn monitor(src: &Sources) -> Option<Monitor> {
    let v = src.node.query(|n| n.server_view()).await?;
    let sizes = src.stats.responses();
    let (open_fds, max_fds) = (process::open_fds(), process::max_fds());
    let int = |n: u64| Figure::Int(n as i64);
    let mut figures = vec![
        ("version", Figure::Text(v.version.clone())),
        ("server_state", Figure::Text(v.mode.as_str().to_string())),
        ("ephemerals_count", int(v.ephemerals_count)),
        ("num_alive_connections", int(v.alive_connections)),
        ("avg_latency", Figure::Float(round4(v.latency_avg_ms))),
        ("outstanding_requests", int(v.outstanding_requests)),
        ("znode_count", int(v.znode_count)),
        ("global_sessions", int(v.global_sessions)),
        ("last_client_response_size", Figure::Int(sizes.last)),
        ("packets_sent", int(v.packets_sent)),
        ("packets_received", int(v.packets_received)),
        ("max_client_response_size", Figure::Int(sizes.max)),
        ("watch_count", int(v.watch_count)),
        ("auth_failed_count", int(src.stats.auth_failed())),
        ("min_latency", int(v.latency_min_ms)),
    ];
    if let Some(max) = max_fds {
        figures.push(("max_file_descriptor_count", int(max)));
    }
    figures.push(("approximate_data_size", int(v.approximate_data_size)));
    if let Some(open) = open_fds {
        figures.push(("open_file_descriptor_count", int(open)));
    }
    figures.extend([
        ("local_sessions", int(v.local_sessions)),
        ("uptime", int(src.stats.uptime_ms())),
        ("max_latency", int(v.latency_max_ms)),
        ("min_client_response_size", Figure::Int(sizes.min)),
        ("last_processed_zxid", Figure::Int(v.last_processed_zxid.0 as i64)),
        ("fsync_threshold_exceed_count", int(src.stats.fsync_over_threshold())),
    ]);
    let fsync = src.stats.fsync();
    let summaries = vec![
        ("fsynctime", fsync.clone()),
        ("snapshottime", src.stats.snapshot()),
        // A standalone server never elects; the family exists, as in ZooKeeper.
        ("election_time", Summary::default()),
    ];
    Some(Monitor { figures, summaries, fsync })
}

impl Monitor {
    /// `mntr` as JSON: figures in order, then each summary's five keys.
    pub fn to_json_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        for (name, figure) in &self.figures {
            let value = match figure {
                Figure::Int(n) => Value::from(*n),
                Figure::Float(x) => Value::from(*x),
                Figure::Text(s) => Value::from(s.clone()),
            };
            map.insert(name.to_string(), value);
        }
        for (name, s) in &self.summaries {
            map.insert(format!("avg_{name}"), Value::from(round4(s.avg_ms())));
            map.insert(format!("min_{name}"), Value::from(s.min_ms.round() as i64));
            map.insert(format!("max_{name}"), Value::from(s.max_ms.round() as i64));
            map.insert(format!("cnt_{name}"), Value::from(s.count));
            map.insert(format!("sum_{name}"), Value::from(s.sum_ms.round() as i64));
        }
        map
    }

    /// The Prometheus text exposition.
    pub fn to_prometheus(&self, process_info: Option<&process::ProcessInfo>) -> String {
        let mut out = String::new();
        for (name, figure) in &self.figures {
            let value = match figure {
                Figure::Int(n) => *n as f64,
                Figure::Float(x) => *x,
                Figure::Text(_) => continue,
            };
            family(&mut out, name, name, "gauge");
            sample(&mut out, name, "", value);
        }
        for (name, s) in &self.summaries {
            family(&mut out, name, name, "summary");
            sample(&mut out, name, "{quantile=\"0.5\"}", s.quantile_ms(0.5));
            sample(&mut out, &format!("{name}_count"), "", s.count as f64);
            sample(&mut out, &format!("{name}_sum"), "", s.sum_ms);
        }
        let name = "keeper_fsync_duration_seconds";
        family(&mut out, name, "Log fsync (group commit) durations", "histogram");
        for (le, n) in self.fsync.cumulative_buckets() {
            let le = if le.is_infinite() { "+Inf".to_string() } else { le.to_string() };
            sample(&mut out, &format!("{name}_bucket"), &format!("{{le=\"{le}\"}}"), n as f64);
        }
        sample(&mut out, &format!("{name}_count"), "", self.fsync.count as f64);
        sample(&mut out, &format!("{name}_sum"), "", self.fsync.sum_ms / 1000.0);
        if let Some(p) = process_info {
            p.render(&mut out);
        }
        out
    }
}

/// Writes `# HELP` and `# TYPE` for one family.
pub(super) fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Writes one sample; values print as Java's simpleclient prints them (`8.0`, `0.5`).
pub(super) fn sample(out: &mut String, name: &str, labels: &str, value: f64) {
    let text = if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.1}")
    } else {
        value.to_string()
    };
    let _ = writeln!(out, "{name}{labels} {text}");
}

/// Answers `GET /metrics`.
pub async fn answer(src: &Sources) -> Reply {
    let Some(m) = monitor(src).await else {
        return Reply {
            status: StatusCode::SERVICE_UNAVAILABLE,
            content_type: "text/plain; charset=utf-8",
            body: "the server is not running\n".to_string(),
        };
    };
    let info = src
        .cfg
        .metrics_export_process_info
        .then(|| process::ProcessInfo::read(src.stats.started_epoch_secs()));
    Reply {
        status: StatusCode::OK,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: m.to_prometheus(info.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sample_monitor() -> Monitor {
        let mut fsync = Summary::default();
        fsync.observe(Duration::from_micros(1500));
        fsync.observe(Duration::from_micros(500));
        Monitor {
            figures: vec![
                ("version", Figure::Text("v".into())),
                ("znode_count", Figure::Int(8)),
                ("avg_latency", Figure::Float(0.5)),
            ],
            summaries: vec![("fsynctime", fsync.clone())],
            fsync,
        }
    }

    /// The exposition ZooKeeper's provider prints: gauges, a summary with a 0.5 quantile,
    /// text figures left out, and the fsync histogram with cumulative buckets.
    #[test]
    fn prometheus_text() {
        let text = sample_monitor().to_prometheus(None);
        assert!(text.contains("# TYPE znode_count gauge\nznode_count 8.0\n"), "{text}");
        assert!(text.contains("avg_latency 0.5\n"));
        assert!(!text.contains("version"));
        assert!(text.contains("# TYPE fsynctime summary\nfsynctime{quantile=\"0.5\"} 0.5\n"));
        assert!(text.contains("fsynctime_count 2.0\nfsynctime_sum 2.0\n"), "{text}");
        assert!(text.contains("keeper_fsync_duration_seconds_bucket{le=\"0.0005\"} 1.0\n"));
        assert!(text.contains("keeper_fsync_duration_seconds_bucket{le=\"0.0025\"} 2.0\n"));
        assert!(text.contains("keeper_fsync_duration_seconds_bucket{le=\"+Inf\"} 2.0\n"));
        assert!(text.contains("keeper_fsync_duration_seconds_sum 0.002\n"), "{text}");
    }

    #[test]
    fn monitor_json_has_summary_keys() {
        let map = sample_monitor().to_json_map();
        assert_eq!(map["znode_count"], 8);
        assert_eq!(map["version"], "v");
        assert_eq!(map["cnt_fsynctime"], 2);
        assert_eq!(map["avg_fsynctime"], 1.0);
        assert_eq!(map["max_fsynctime"], 2, "1.5 ms rounds to ZooKeeper's whole ms");
    }
}
