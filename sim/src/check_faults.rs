//! Checkers for the client-visible faults a server must survive without a crash: a full
//! disk (`disk-full-refuses-writes`) and a client that walks away (`abandoned-sessions-
//! expire`). Plain functions of what the run recorded, so a test can feed them a doctored
//! record and see them fail.
//!
//! Invariant: each returns a `Verdict` named as docs/scenarios.md lists it, with `None` as
//! its failure exactly when the property holds for every item it was given.

use crate::check::{Op, Verdict};

/// A stretch of time in which `node` knew its disk was full (`to_ms` is `u64::MAX` while it
/// lasts to the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullWindow {
    pub node: u64,
    pub from_ms: u64,
    pub to_ms: u64,
}

/// `disk-full-refuses-writes`: no write sent to a server after it was told its disk is
/// full, and answered before it was told space is back, succeeded.
pub fn full_refuses_writes(history: &[Op], windows: &[FullWindow]) -> Verdict {
    let name = "disk-full-refuses-writes";
    for op in history.iter().filter(|o| o.is_write && o.err == Some(0)) {
        let done = op.complete_ms.unwrap_or(u64::MAX);
        let inside =
            |w: &&FullWindow| w.node == op.node && w.from_ms <= op.invoke_ms && done <= w.to_ms;
        if let Some(w) = windows.iter().find(inside) {
            let why = format!(
                "{} by client {} (xid {}) at {} ms on node {} succeeded while its disk was full \
                 ({} ms to {} ms)",
                op.kind, op.client, op.xid, op.invoke_ms, op.node, w.from_ms, w.to_ms
            );
            return Verdict { name, failure: Some(why) };
        }
    }
    Verdict { name, failure: None }
}

/// What became of one abandoned session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbandonedFate {
    pub client: u32,
    pub session: i64,
    /// When the client last sent anything, and its negotiated session timeout.
    pub last_sent_ms: u64,
    pub timeout_ms: u64,
    /// When the first closeSession for it was logged anywhere, if ever.
    pub closed_ms: Option<u64>,
    /// True once the run went on long enough (faults healed, then a timeout and the
    /// liveness bound) that the session must have ended.
    pub due: bool,
    /// Ephemerals of the session that servers still held at the end: (node, paths).
    pub left: Vec<(u64, Vec<String>)>,
}

/// `abandoned-sessions-expire`: an abandoned session ends by expiry, not before its timeout
/// has run from the client's last message, and once due it has ended and no server holds
/// one of its ephemerals.
pub fn abandoned_sessions_expire(fates: &[AbandonedFate]) -> Verdict {
    let name = "abandoned-sessions-expire";
    let fail = |why: String| Verdict { name, failure: Some(why) };
    for a in fates {
        let earliest = a.last_sent_ms + a.timeout_ms;
        if let Some(t) = a.closed_ms.filter(|t| *t < earliest) {
            return fail(format!(
                "session {:#x} of client {} closed at {t} ms, before its timeout ({} ms from \
                 the client's last message at {} ms)",
                a.session, a.client, a.timeout_ms, a.last_sent_ms
            ));
        }
        if !a.due {
            continue;
        }
        if a.closed_ms.is_none() {
            return fail(format!("session {:#x} of client {} never expired", a.session, a.client));
        }
        if let Some((node, paths)) = a.left.iter().find(|(_, p)| !p.is_empty()) {
            return fail(format!(
                "node {node} still holds ephemerals {paths:?} of expired session {:#x}",
                a.session
            ));
        }
    }
    Verdict { name, failure: None }
}
