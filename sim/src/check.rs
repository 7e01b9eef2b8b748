//! Checkers: properties every run must satisfy, judged from the recorded history and logs.
//!
//! Each checker is a pure function over plain data so that a test can feed it a doctored
//! history and show that it fails (a checker that never fails proves nothing).

use std::collections::BTreeSet;

use keeper_core::Zxid;

/// One client operation as the simulator saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub client: u32,
    /// Session id once known (0 before the first connect).
    pub session: i64,
    pub xid: i32,
    pub kind: &'static str,
    pub is_write: bool,
    /// The node the op was sent to.
    pub node: u64,
    pub invoke_ms: u64,
    pub complete_ms: Option<u64>,
    /// Wire error code (0 = ok); `None` while pending. Connection loss is -4.
    pub err: Option<i32>,
    /// Reply header zxid (for a successful write, the txn's zxid).
    pub zxid: Option<Zxid>,
}

/// A crash and the log the node recovered from on its next restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    pub node: u64,
    pub crash_ms: u64,
    /// Zxids of the log records the node was handed after its snapshot.
    pub recovered: Vec<Zxid>,
    /// The zxid of the snapshot it started from (ZERO for none): everything up to it is
    /// held by the snapshot, which `recovery_matches_log` holds to account.
    pub snapshot_zxid: Zxid,
    /// The digest of the tree the node rebuilt from snapshot + log.
    pub recovered_digest: u64,
    /// The digest of a tree rebuilt from nothing by replaying every durable log record.
    pub replayed_digest: u64,
    /// Recovered log records that differ from what was written with their zxid (damage
    /// that got past the checksum).
    pub unfaithful: Vec<Zxid>,
}

impl Recovery {
    /// A recovery from the log alone, whose tree matched the replay.
    pub fn from_log(node: u64, crash_ms: u64, recovered: Vec<Zxid>) -> Recovery {
        Recovery {
            node,
            crash_ms,
            recovered,
            snapshot_zxid: Zxid::ZERO,
            recovered_digest: 0,
            replayed_digest: 0,
            unfaithful: Vec::new(),
        }
    }
}

/// The verdict of one checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub name: &'static str,
    pub failure: Option<String>,
}

/// Zxids strictly increase in each node's applied log (one Vec per node incarnation).
pub fn zxids_increase(logs: &[(u64, Vec<Zxid>)]) -> Verdict {
    let mut failure = None;
    for (node, log) in logs {
        if let Some(w) = log.windows(2).find(|w| w[0] >= w[1]) {
            failure = Some(format!("node {node}: zxid {} followed by {}", w[0], w[1]));
            break;
        }
    }
    Verdict { name: "zxids-increase", failure }
}

/// Every write acknowledged by a node before it crashed is in the log it recovered.
pub fn acked_writes_durable(history: &[Op], recoveries: &[Recovery]) -> Verdict {
    let mut failure = None;
    'outer: for r in recoveries {
        let recovered: BTreeSet<Zxid> = r.recovered.iter().copied().collect();
        for op in history {
            let acked = op.is_write && op.err == Some(0) && op.node == r.node;
            let before = op.complete_ms.is_some_and(|t| t <= r.crash_ms);
            if let (true, true, Some(z)) = (acked, before, op.zxid) {
                if z > r.snapshot_zxid && !recovered.contains(&z) {
                    failure = Some(format!(
                        "client {} xid {} acked write {z} lost by node {} crash at {}ms",
                        op.client, op.xid, r.node, r.crash_ms
                    ));
                    break 'outer;
                }
            }
        }
    }
    Verdict { name: "acked-writes-durable", failure }
}

/// A restarted node's tree equals the tree rebuilt by replaying every durable log record
/// from the start: its snapshot holds exactly the state it is labelled with and recovery
/// skips nothing. (A snapshot taken one txn early lost an acknowledged write; this checker
/// catches that class of bug even when no client happened to read the lost node.)
pub fn recovery_matches_log(recoveries: &[Recovery]) -> Verdict {
    let failure = recoveries.iter().find(|r| r.recovered_digest != r.replayed_digest).map(|r| {
        format!(
            "node {} after the crash at {}ms recovered tree digest {:016x}, replaying its log gives {:016x} (snapshot {})",
            r.node, r.crash_ms, r.recovered_digest, r.replayed_digest, r.snapshot_zxid
        )
    });
    Verdict { name: "recovery-matches-log", failure }
}

/// A damaged log record is never handed to a node: every record a restart recovered is
/// exactly what was written with its zxid (recovery either caught the damage by checksum and
/// refused to start, or the damage lay where recovery does not read).
pub fn damage_never_applied(recoveries: &[Recovery]) -> Verdict {
    let failure = recoveries.iter().find(|r| !r.unfaithful.is_empty()).map(|r| {
        format!(
            "node {} after the crash at {}ms recovered damaged records {:?}",
            r.node, r.crash_ms, r.unfaithful
        )
    });
    Verdict { name: "damage-never-applied", failure }
}

/// Per session, replies come in xid order and their zxids never go down (FIFO client order),
/// which also means a session never reads state older than it has seen.
pub fn session_order(history: &[Op]) -> Verdict {
    let mut done: Vec<&Op> = history.iter().filter(|o| o.complete_ms.is_some()).collect();
    done.retain(|o| o.err != Some(CONNECTION_LOSS) && o.zxid.is_some());
    // Stable sort by (session, completion): the order replies arrived per session.
    done.sort_by_key(|o| (o.session, o.complete_ms));
    let mut failure = None;
    for w in done.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.session != b.session || a.session == 0 {
            continue;
        }
        if a.xid >= b.xid {
            failure =
                Some(format!("session {:#x}: reply xid {} after xid {}", a.session, b.xid, a.xid));
            break;
        }
        if a.zxid > b.zxid {
            failure = Some(format!(
                "session {:#x}: xid {} saw zxid {:?} after xid {} saw {:?}",
                a.session, b.xid, b.zxid, a.xid, a.zxid
            ));
            break;
        }
    }
    Verdict { name: "session-order", failure }
}

/// Liveness once faults have ended at `last_fault_ms`: every op still pending at the end was
/// invoked less than `bound_ms` before it; every op completed within `bound_ms` of the later
/// of its invocation and the last fault; and no op invoked `bound_ms` after the last fault
/// failed with connection loss (by then the service must be reachable again), unless it was
/// sent to a server in `unreliable`: one that is down at the end of the run (a node whose
/// recovery refused its damaged disk never comes back, by design), whose clients can only
/// lose their connection and try another server, or any server while loss between servers
/// never healed. The servers that are up must still serve.
pub fn liveness(
    history: &[Op],
    last_fault_ms: u64,
    end_ms: u64,
    bound_ms: u64,
    unreliable: &BTreeSet<u64>,
) -> Verdict {
    let healed = |o: &Op| o.invoke_ms.max(last_fault_ms);
    let failure = history.iter().find_map(|o| match o.complete_ms {
        None if healed(o) + bound_ms <= end_ms => Some(format!(
            "client {} {} xid {} invoked at {}ms never completed",
            o.client, o.kind, o.xid, o.invoke_ms
        )),
        Some(t) if t > healed(o) + bound_ms => Some(format!(
            "client {} {} xid {} invoked at {}ms took until {t}ms",
            o.client, o.kind, o.xid, o.invoke_ms
        )),
        Some(_)
            if o.err == Some(CONNECTION_LOSS)
                && o.invoke_ms >= last_fault_ms + bound_ms
                && !unreliable.contains(&o.node) =>
        {
            Some(format!(
                "client {} {} xid {} invoked at {}ms on node {} lost its connection after faults ended",
                o.client, o.kind, o.xid, o.invoke_ms, o.node
            ))
        }
        _ => None,
    });
    Verdict { name: "liveness", failure }
}

/// What one session received, in arrival order: a reply (header zxid) or a watch event:
/// the zxid of the transaction that fired it, or, when setWatches fired it on a new
/// connection (`rewatch`), the server's state at re-registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    Reply { session: i64, zxid: Zxid },
    Watch { session: i64, zxid: Zxid, rewatch: bool },
}

/// A watch event reaches a client before the data that fired it: no session receives the
/// event for a transaction after it has already received a reply reflecting a state that
/// includes that transaction (a reply whose zxid is at or past it). ZooKeeper sends the
/// notification ahead of anything that follows the change on the connection; on another
/// server the watch is re-registered with the last zxid the client saw, and any event that
/// fires then reports the server's state, which the client may have seen exactly (so only
/// a reply past it counts) and comes before the first reply there.
pub fn watch_order(seen: &[Seen]) -> Verdict {
    let mut newest = std::collections::BTreeMap::<i64, Zxid>::new();
    let mut failure = None;
    for s in seen {
        match *s {
            Seen::Reply { session, zxid } => {
                let n = newest.entry(session).or_insert(zxid);
                *n = (*n).max(zxid);
            }
            Seen::Watch { session, zxid, rewatch } => {
                let seen_it = |n: &&Zxid| **n > zxid || (**n == zxid && !rewatch);
                if let Some(n) = newest.get(&session).filter(seen_it) {
                    failure = Some(format!(
                        "session {session:#x}: watch event for {zxid} arrived after a reply at {n}"
                    ));
                    break;
                }
            }
        }
    }
    Verdict { name: "watch-order", failure }
}

/// The newest zxid a reply's stats show (mzxid, pzxid, czxid of every Stat in it, multi
/// results included) when it is above the reply header's zxid: the reply shows a change
/// its header does not cover. A header names the state the answer was read from, so
/// (as in ZooKeeper, whose header is the last processed zxid) nothing in the answer may
/// be newer; keeper's early reads label an answer with the newest durable, committed zxid,
/// so a read that leaked a not-yet-durable write (or an uncommitted proposal) shows here.
pub fn stat_ahead_of_header(
    header: Zxid,
    result: &keeper_core::proto::ReplyResult,
) -> Option<Zxid> {
    use keeper_core::proto::{OpResult, Response, Stat};
    let newest = |s: &Stat| s.mzxid.max(s.pzxid).max(s.czxid);
    let stats: Vec<&Stat> = match result {
        Ok(Response::Stat(s))
        | Ok(Response::GetData { stat: s, .. })
        | Ok(Response::GetChildren2 { stat: s, .. })
        | Ok(Response::GetAcl { stat: s, .. })
        | Ok(Response::Create2 { stat: s, .. }) => vec![s],
        Ok(Response::Multi(rs)) => rs
            .iter()
            .filter_map(|r| match r {
                OpResult::GetData { stat, .. }
                | OpResult::SetData { stat }
                | OpResult::Create2 { stat, .. } => Some(stat),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let max = stats.into_iter().map(newest).max()?;
    (max > header.as_i64()).then_some(Zxid(max as u64))
}

/// Wire code of ConnectionLoss, recorded for ops cut off by a closed connection.
pub const CONNECTION_LOSS: i32 = -4;
