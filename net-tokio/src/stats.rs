//! What only the shell can measure, for the AdminServer and `/metrics`: fsync and snapshot
//! durations (storage threads), reply sizes and authentication failures (the node task's
//! router), the last snapshot written, and the server's start time.
//!
//! The node's own counters (packets, latency, znodes, watches) come from the core through
//! the node task; these are the facts that happen outside it. One [`ShellStats`] is shared
//! by every thread of a server behind an `Arc`. Invariant: each [`Summary`] keeps `count`,
//! `sum`, `min` and `max` over every sample since the last reset, and its `recent` window
//! holds at most [`RECENT_SAMPLES`] of the newest samples (the quantile is computed over
//! that window, as ZooKeeper's Prometheus summaries use a sliding window).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keeper_core::Zxid;

/// Samples kept per summary for its median: enough for a stable figure, small enough that a
/// scrape sorts it in microseconds.
pub const RECENT_SAMPLES: usize = 1024;

/// An fsync slower than this is counted in `fsync_threshold_exceed_count` (ZooKeeper's
/// `fsync.warningthresholdms` default) and logged at WARN.
pub const FSYNC_WARN_THRESHOLD: Duration = Duration::from_millis(1000);

/// Upper bounds (seconds) of the fsync duration histogram's buckets; +Inf is implied.
pub const FSYNC_BUCKETS_SECONDS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Count, sum, min, max and a window of recent samples of one duration, in ms.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub count: u64,
    pub sum_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    recent: VecDeque<f64>,
    /// Cumulative-by-bound counts are derived at render time; these are per bucket,
    /// the last slot counting samples above every bound.
    buckets: [u64; FSYNC_BUCKETS_SECONDS.len() + 1],
}

impl Summary {
    /// Adds one sample.
    pub fn observe(&mut self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        assert!(ms >= 0.0 && ms.is_finite());
        if self.count == 0 || ms < self.min_ms {
            self.min_ms = ms;
        }
        self.max_ms = self.max_ms.max(ms);
        self.count += 1;
        self.sum_ms += ms;
        if self.recent.len() == RECENT_SAMPLES {
            self.recent.pop_front();
        }
        self.recent.push_back(ms);
        let secs = d.as_secs_f64();
        let slot = FSYNC_BUCKETS_SECONDS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(FSYNC_BUCKETS_SECONDS.len());
        self.buckets[slot] += 1;
        debug_assert!(self.recent.len() <= RECENT_SAMPLES);
    }

    /// The mean in ms (0 with no samples).
    pub fn avg_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ms / self.count as f64
        }
    }

    /// The `q` quantile (0..=1) of the recent window, nearest rank; 0 with no samples.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        assert!((0.0..=1.0).contains(&q));
        if self.recent.is_empty() {
            return 0.0;
        }
        let mut sorted: Vec<f64> = self.recent.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// `(upper bound in seconds, samples at or below it)` for every bucket, cumulative,
    /// ending with `(+Inf, count)`.
    pub fn cumulative_buckets(&self) -> Vec<(f64, u64)> {
        let mut total = 0;
        let mut out = Vec::with_capacity(self.buckets.len());
        for (i, n) in self.buckets.iter().enumerate() {
            total += n;
            out.push((FSYNC_BUCKETS_SECONDS.get(i).copied().unwrap_or(f64::INFINITY), total));
        }
        assert_eq!(total, self.count, "every sample is in one bucket");
        out
    }
}

/// The newest snapshot on disk: its zxid and when its file was written (epoch seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub zxid: Zxid,
    pub written_epoch_secs: u64,
}

/// Sizes in bytes of the replies sent to clients (ZooKeeper's `client_response` stats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseSizes {
    pub last: i64,
    pub min: i64,
    pub max: i64,
}

impl Default for ResponseSizes {
    /// ZooKeeper reports -1 for each until a reply is sent (and after `srst`).
    fn default() -> ResponseSizes {
        ResponseSizes { last: -1, min: -1, max: -1 }
    }
}

/// Shell-side measurements of one server. See the module documentation.
#[derive(Debug)]
pub struct ShellStats {
    started: Instant,
    started_epoch_secs: u64,
    fsync: Mutex<Summary>,
    fsync_over_threshold: Mutex<u64>,
    snapshot: Mutex<Summary>,
    last_snapshot: Mutex<Option<SnapshotInfo>>,
    /// Reply sizes: last, min, max (-1 until the first reply); atomics, since the node
    /// task records one per reply.
    responses: [AtomicI64; 3],
    auth_failed: Mutex<u64>,
}

impl Default for ShellStats {
    fn default() -> ShellStats {
        ShellStats::new()
    }
}

impl ShellStats {
    /// Nothing measured yet; uptime counts from now.
    pub fn new() -> ShellStats {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs());
        ShellStats {
            started: Instant::now(),
            started_epoch_secs: epoch.unwrap_or(0),
            fsync: Mutex::default(),
            fsync_over_threshold: Mutex::default(),
            snapshot: Mutex::default(),
            last_snapshot: Mutex::default(),
            responses: [AtomicI64::new(-1), AtomicI64::new(-1), AtomicI64::new(-1)],
            auth_failed: Mutex::default(),
        }
    }

    /// Milliseconds since the server started.
    pub fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// When the server started, epoch seconds.
    pub fn started_epoch_secs(&self) -> u64 {
        self.started_epoch_secs
    }

    /// One log fsync (the storage writer's group commit) took `d`.
    pub fn record_fsync(&self, d: Duration) {
        lock(&self.fsync).observe(d);
        if d > FSYNC_WARN_THRESHOLD {
            *lock(&self.fsync_over_threshold) += 1;
            tracing::warn!(ms = d.as_millis() as u64, "fsync took longer than 1000 ms");
        }
    }

    /// A snapshot of `zxid` was written and synced in `d`.
    pub fn record_snapshot(&self, zxid: Zxid, d: Duration) {
        lock(&self.snapshot).observe(d);
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs());
        self.set_last_snapshot(SnapshotInfo { zxid, written_epoch_secs: secs.unwrap_or(0) });
    }

    /// The snapshot found on disk at startup (before the first one this run writes).
    pub fn set_last_snapshot(&self, info: SnapshotInfo) {
        *lock(&self.last_snapshot) = Some(info);
    }

    /// A reply of `bytes` (frame without its length prefix) went to a client.
    pub fn record_response(&self, bytes: usize) {
        let n = bytes as i64;
        let [last, min, max] = &self.responses;
        last.store(n, Ordering::Relaxed);
        if !(0..=n).contains(&min.load(Ordering::Relaxed)) {
            let _ = min.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |m| {
                (m < 0 || n < m).then_some(n)
            });
        }
        if max.load(Ordering::Relaxed) < n {
            max.fetch_max(n, Ordering::Relaxed);
        }
    }

    /// A client failed authentication.
    pub fn record_auth_failed(&self) {
        *lock(&self.auth_failed) += 1;
    }

    /// `srst`: forgets reply sizes and authentication failures, as ZooKeeper's
    /// `ServerStats.reset` does (fsync figures are metrics, not server stats: they stay).
    pub fn reset(&self) {
        for r in &self.responses {
            r.store(-1, Ordering::Relaxed);
        }
        *lock(&self.auth_failed) = 0;
    }

    pub fn fsync(&self) -> Summary {
        lock(&self.fsync).clone()
    }
    pub fn fsync_over_threshold(&self) -> u64 {
        *lock(&self.fsync_over_threshold)
    }
    pub fn snapshot(&self) -> Summary {
        lock(&self.snapshot).clone()
    }
    pub fn last_snapshot(&self) -> Option<SnapshotInfo> {
        *lock(&self.last_snapshot)
    }
    pub fn responses(&self) -> ResponseSizes {
        let [last, min, max] = &self.responses;
        ResponseSizes {
            last: last.load(Ordering::Relaxed),
            min: min.load(Ordering::Relaxed),
            max: max.load(Ordering::Relaxed),
        }
    }
    pub fn auth_failed(&self) -> u64 {
        *lock(&self.auth_failed)
    }
}

/// A poisoned lock only means a thread panicked mid-update of a statistic; the numbers are
/// still usable (and a storage thread that panics aborts the process anyway).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_quantiles_and_buckets() {
        let mut s = Summary::default();
        assert_eq!((s.avg_ms(), s.quantile_ms(0.5)), (0.0, 0.0));
        for ms in [1, 2, 3, 4, 100] {
            s.observe(Duration::from_millis(ms));
        }
        assert_eq!(s.count, 5);
        assert_eq!((s.min_ms, s.max_ms), (1.0, 100.0));
        assert!((s.avg_ms() - 22.0).abs() < 1e-9);
        assert_eq!(s.quantile_ms(0.5), 3.0);
        assert_eq!(s.quantile_ms(1.0), 100.0);
        let b = s.cumulative_buckets();
        assert_eq!(b.last(), Some(&(f64::INFINITY, 5)));
        assert_eq!(b.iter().find(|(le, _)| *le == 0.001), Some(&(0.001, 1)));
        assert_eq!(b.iter().find(|(le, _)| *le == 0.005), Some(&(0.005, 4)));
        for _ in 0..RECENT_SAMPLES {
            s.observe(Duration::from_millis(7));
        }
        assert_eq!(s.quantile_ms(0.0001), 7.0, "old samples leave the window");
        assert_eq!(s.count, 5 + RECENT_SAMPLES as u64, "but stay in the count");
    }

    #[test]
    fn response_sizes_start_at_minus_one_and_reset() {
        let stats = ShellStats::new();
        assert_eq!(stats.responses(), ResponseSizes { last: -1, min: -1, max: -1 });
        stats.record_response(40);
        stats.record_response(16);
        assert_eq!(stats.responses(), ResponseSizes { last: 16, min: 16, max: 40 });
        stats.record_auth_failed();
        stats.reset();
        assert_eq!(stats.responses(), ResponseSizes::default());
        assert_eq!(stats.auth_failed(), 0);
    }
}
