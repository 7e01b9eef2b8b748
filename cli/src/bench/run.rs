//! The closed-loop driver: sessions spread over the servers, `depth` requests in flight
//! per session, each worker sending its next request only when its last one is answered.
//!
//! Invariant: at most `sessions × depth` requests are outstanding at any time (closed
//! loop: the offered load adapts to the server, so a slow server is measured as slow rather
//! than buried under a queue the client built). With an `interval` (`--rate`) each worker
//! instead sends when it is due, and a request sent late because the previous one was
//! still unanswered is timed from when it was due (no coordinated omission); one sent late
//! only because the client's timer woke late is timed from when it went out. Requests that start before the warm-up ends
//! are sent but not counted. Everything goes through the plain ZooKeeper client protocol
//! (keeper-net's client), so the same run works against any ZooKeeper server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use keeper_core::error::KeeperError;
use keeper_core::proto::Acl;
use keeper_net::client::{self, Client, ClientError};

use super::report::{Report, Settings, Tally};
use super::workload::{create_request, OpKind, OpSource, Spec, Workload};

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct Plan {
    pub servers: Vec<String>,
    pub sessions: usize,
    pub depth: usize,
    pub spec: Spec,
    pub payload_bytes: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Stop after this many requests in all (counted from the start, warm-up included).
    pub ops_limit: Option<u64>,
    /// Create the prefix and the key znodes first (skip when they already exist).
    pub setup: bool,
    pub session_timeout: Duration,
    /// Local server processes whose CPU time over the measured window is reported.
    pub server_pids: Vec<u32>,
    /// With `--rate`: how often each worker is due to send (None: closed loop).
    pub interval: Option<Duration>,
}

/// Connects, sets up, runs the workload and returns what was measured.
pub async fn run(plan: &Plan) -> Result<Report, String> {
    assert!(plan.sessions > 0 && plan.depth > 0, "validated by the argument parser");
    let clients = connect_all(plan).await?;
    let payload = Bytes::from(vec![b'x'; plan.payload_bytes]);
    if plan.setup {
        setup(plan, &clients, &payload).await?;
    }
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let pids = plan.server_pids.clone();
    let cpu_at_start = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        super::cpu::cpu_seconds(&pids)
    });
    let (tally, last) = drive(plan, &clients, &plan.spec, &payload, measure_from, end).await;
    let server_cpu_s = if plan.server_pids.is_empty() {
        None
    } else {
        let start = cpu_at_start.await.map_err(|e| e.to_string())??;
        Some(super::cpu::cpu_seconds(&plan.server_pids)? - start)
    };
    for c in &clients {
        let _ = c.close().await;
    }
    let window = last.map(|t| t.saturating_duration_since(measure_from)).unwrap_or_default();
    let settings = Settings {
        workload: plan.spec.workload.name(),
        servers: plan.servers.clone(),
        sessions: plan.sessions,
        depth: plan.depth,
        read_pct: plan.spec.read_pct,
        payload_bytes: plan.payload_bytes,
        keys: plan.spec.keys,
        rate: plan.interval.map(|every| (plan.sessions * plan.depth) as f64 / every.as_secs_f64()),
    };
    Ok(Report { settings, window, tally, server_cpu_s })
}

/// Polls until a session opens on one of `servers` and answers `exists /` (with `write`:
/// creates an ephemeral sequential `/keeper-probe-` node), or `timeout` passes; returns how
/// long that took (restart-to-serving and failover measurements).
pub async fn probe(servers: &[String], timeout: Duration, write: bool) -> Result<Duration, String> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut last = String::from("no attempt");
    while Instant::now() < deadline {
        // Bounded attempts: a server that is still starting may accept a connection and
        // never answer on it (ZooKeeper does), so each try gets its own short deadline.
        let attempt = async {
            let (c, _watches) = client::connect(servers, Duration::from_secs(10)).await?;
            let found = if write {
                let flags = 3; // ephemeral | sequential: nothing is left behind
                c.create("/keeper-probe-", b"", Acl::open_unsafe(), flags, None).await.map(|_| true)
            } else {
                c.exists("/", false).await.map(|s| s.is_some())
            };
            let _ = c.close().await;
            found
        };
        match tokio::time::timeout(PROBE_ATTEMPT, attempt).await {
            Ok(Ok(true)) => return Ok(start.elapsed()),
            Ok(Ok(false)) => last = "exists / answered no node".into(),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer within {PROBE_ATTEMPT:?}"),
        }
        tokio::time::sleep(PROBE_RETRY).await;
    }
    Err(format!("no server answered within {timeout:?}: {last}"))
}

// ---- private ----

/// Between probe attempts: short next to any restart worth measuring.
const PROBE_RETRY: Duration = Duration::from_millis(20);
/// One probe attempt (connect, handshake, exists) gives up after this.
const PROBE_ATTEMPT: Duration = Duration::from_millis(500);
/// Opening one benchmark session gives up after this.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// One session per `sessions`, round-robin over the servers.
async fn connect_all(plan: &Plan) -> Result<Vec<Client>, String> {
    let mut clients = Vec::with_capacity(plan.sessions);
    for i in 0..plan.sessions {
        let addr = plan.servers[i % plan.servers.len()].clone();
        let opening = client::connect(std::slice::from_ref(&addr), plan.session_timeout);
        let (c, _watches) = tokio::time::timeout(CONNECT_WITHIN, opening)
            .await
            .map_err(|_| format!("session {i} on {addr}: no handshake within {CONNECT_WITHIN:?}"))?
            .map_err(|e| format!("cannot open session {i} on {addr}: {e}"))?;
        clients.push(c);
    }
    Ok(clients)
}

/// Creates the prefix, then every key znode (pipelined like the run; existing ones stay).
async fn setup(plan: &Plan, clients: &[Client], payload: &Bytes) -> Result<(), String> {
    match clients[0].request(create_request(plan.spec.prefix.clone(), Bytes::new())).await {
        Ok(_) | Err(ClientError::Keeper(KeeperError::NodeExists)) => {}
        Err(e) => return Err(format!("cannot create {}: {e}", plan.spec.prefix)),
    }
    if !plan.spec.workload.needs_keys() {
        return Ok(());
    }
    let load = Spec { workload: Workload::Load, ..plan.spec.clone() };
    let far = Instant::now() + Duration::from_secs(24 * 3600);
    let unlimited = Plan { ops_limit: None, interval: None, ..plan.clone() };
    let (tally, _) = drive(&unlimited, clients, &load, payload, Instant::now(), far).await;
    let bad: u64 = tally.errors.iter().filter(|(k, _)| *k != "NodeExists").map(|(_, n)| n).sum();
    if bad > 0 {
        return Err(format!("setup failed to create keys: {:?}", tally.errors));
    }
    Ok(())
}

/// Runs `depth` workers per session until `end`, the op limit, or the workload runs dry.
/// Returns the merged tally and when the last counted request completed.
async fn drive(
    plan: &Plan,
    clients: &[Client],
    spec: &Spec,
    payload: &Bytes,
    measure_from: Instant,
    end: Instant,
) -> (Tally, Option<Instant>) {
    let workers = (clients.len() * plan.depth) as u64;
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(workers as usize);
    for w in 0..workers {
        let client = clients[(w as usize) % clients.len()].clone();
        let source = OpSource::new(spec, payload.clone(), w, workers);
        let issued = issued.clone();
        let limit = plan.ops_limit.unwrap_or(u64::MAX);
        let pace = plan.interval.map(|every| Pace::new(every, w, workers, Instant::now()));
        let run = worker(client, source, issued, limit, pace, measure_from, end);
        tasks.push(tokio::spawn(run));
    }
    let mut total = Tally::new();
    let mut last: Option<Instant> = None;
    for t in tasks {
        match t.await {
            Ok((tally, done)) => {
                total.merge(&tally);
                last = last.max(done);
            }
            Err(e) => *total.errors.entry(format!("worker panicked: {e}")).or_default() += 1,
        }
    }
    (total, last)
}

/// When an open-loop worker is next due to send.
struct Pace {
    every: Duration,
    next: Instant,
}

impl Pace {
    /// Worker `w` of `workers`: workers are staggered evenly over one interval so the
    /// offered load is smooth rather than in bursts of `workers` requests.
    fn new(every: Duration, w: u64, workers: u64, now: Instant) -> Pace {
        let offset = every.mul_f64(w as f64 / workers as f64);
        Pace { every, next: now + offset }
    }

    /// Takes the next slot at `now`: `Ok(due)` when it is already due (send at once; if
    /// the server kept the previous request past this slot, its latency counts from the
    /// slot), `Err(due)` when the worker must first wait until `due`.
    fn take(&mut self, now: Instant) -> Result<Instant, Instant> {
        let due = self.next;
        self.next += self.every;
        if now >= due {
            Ok(due)
        } else {
            Err(due)
        }
    }

    /// Waits until the next request is due; returns the instant its latency counts from.
    async fn due(&mut self) -> Instant {
        match self.take(Instant::now()) {
            Ok(due) => due,
            Err(due) => {
                tokio::time::sleep_until(due.into()).await;
                Instant::now() // the timer's own lateness is the client's, not the server's
            }
        }
    }
}

/// One worker: request, wait, record, repeat (with a `pace`, only when due).
async fn worker(
    client: Client,
    mut source: OpSource,
    issued: Arc<AtomicU64>,
    limit: u64,
    mut pace: Option<Pace>,
    measure_from: Instant,
    end: Instant,
) -> (Tally, Option<Instant>) {
    let mut tally = Tally::new();
    let mut last = None;
    loop {
        let sent = match pace.as_mut() {
            Some(p) => p.due().await,
            None => Instant::now(),
        };
        if sent >= end || issued.fetch_add(1, Ordering::Relaxed) >= limit {
            break;
        }
        let Some((kind, req)) = source.next() else { break };
        let result = client.request(req).await;
        let done = Instant::now();
        let lost = matches!(result, Err(ClientError::ConnectionLoss(_) | ClientError::Protocol(_)));
        if sent < measure_from {
            if lost {
                *tally.errors.entry("ConnectionLoss".into()).or_default() += 1;
                break;
            }
            continue;
        }
        last = Some(done);
        let us = done.duration_since(sent).as_micros().min(u64::MAX as u128) as u64;
        tally.latency_us.saturating_record(us.max(1));
        match kind {
            OpKind::Read => tally.reads += 1,
            OpKind::Write => tally.writes += 1,
        }
        match result {
            Ok(_) => {}
            Err(e) => {
                *tally.errors.entry(error_name(&e)).or_default() += 1;
                if lost {
                    break; // this session is gone; its other workers learn the same
                }
            }
        }
    }
    (tally, last)
}

fn error_name(e: &ClientError) -> String {
    match e {
        ClientError::Keeper(k) => format!("{k:?}"),
        ClientError::ConnectionLoss(_) => "ConnectionLoss".into(),
        ClientError::Protocol(_) => "Protocol".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Workers are spread over one interval, and each is due once per interval after that.
    #[test]
    fn paced_workers_are_staggered_over_one_interval() {
        let t0 = Instant::now();
        let every = Duration::from_millis(8);
        let firsts: Vec<Duration> = (0..4).map(|w| Pace::new(every, w, 4, t0).next - t0).collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(firsts, vec![ms(0), ms(2), ms(4), ms(6)]);
        let mut p = Pace::new(every, 1, 4, t0);
        assert_eq!(p.take(t0), Err(t0 + ms(2)), "not due yet: wait");
        assert_eq!(p.take(t0 + ms(10)), Ok(t0 + ms(10)), "due exactly now");
        assert_eq!(p.take(t0 + ms(10)), Err(t0 + ms(18)));
    }

    /// A worker the server held up sends its overdue requests at once, each timed from
    /// the slot it was due in (no coordinated omission), and waits again once caught up.
    #[test]
    fn a_held_up_worker_counts_from_its_missed_slots() {
        let t0 = Instant::now();
        let ms = |n| Duration::from_millis(n);
        let mut p = Pace::new(ms(10), 0, 1, t0);
        assert_eq!(p.take(t0), Ok(t0));
        // The reply came back at 35 ms: the slots at 10, 20 and 30 ms were missed.
        let late = t0 + ms(35);
        assert_eq!(p.take(late), Ok(t0 + ms(10)));
        assert_eq!(p.take(late), Ok(t0 + ms(20)));
        assert_eq!(p.take(late), Ok(t0 + ms(30)));
        assert_eq!(p.take(late), Err(t0 + ms(40)));
    }
}
