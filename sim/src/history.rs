//! Ensemble checkers fed by the nodes' protocol events: who led which epoch, which
//! transaction each server applied after which, the tree digest after each, and what was
//! committed.
//!
//! Every server that applies a zxid must have applied it right after the same zxid and
//! reach the same tree digest (prefix agreement and convergence in one test, since the
//! digest covers the whole tree); a server that took a snapshot or restarted continues the
//! history from that point. At the end, every committed transaction must lie on the
//! history of every server that has moved past it (nothing committed is lost across
//! crashes, truncation or leader changes). Invariant: the first failure of each checker
//! is kept, with the instant and the servers involved.

use std::collections::{BTreeMap, BTreeSet};

use keeper_core::Zxid;

use crate::check::Verdict;

/// What the checkers have seen so far.
#[derive(Debug, Default)]
pub struct Histories {
    /// zxid → the zxid applied just before it, by the first server that applied it.
    prev: BTreeMap<Zxid, Zxid>,
    /// zxid → (tree digest after it, the first server that reported it).
    digest: BTreeMap<Zxid, (u64, u64)>,
    /// server → the last zxid its tree holds.
    last: BTreeMap<u64, Zxid>,
    committed: BTreeSet<Zxid>,
    /// epoch → the server that established it.
    leaders: BTreeMap<u32, u64>,
    one_leader: Option<String>,
    agree: Option<String>,
}

impl Histories {
    /// `node` applied `zxid`, reaching `digest`, at `now_ms`.
    pub fn applied(&mut self, node: u64, zxid: Zxid, digest: u64, now_ms: u64) {
        let before = self.last.get(&node).copied().unwrap_or(Zxid::ZERO);
        if zxid <= before && self.agree.is_none() {
            self.agree = Some(format!("at {now_ms}ms node {node} applied {zxid} after {before}"));
        }
        match self.prev.get(&zxid) {
            Some(p) if *p != before && self.agree.is_none() => {
                self.agree = Some(format!(
                    "at {now_ms}ms node {node} applied {zxid} after {before}; another server applied it after {p}"
                ));
            }
            Some(_) => {}
            None => {
                self.prev.insert(zxid, before);
            }
        }
        self.state_at(node, zxid, digest, now_ms);
    }

    /// `node`'s tree was replaced by a snapshot at `zxid`, or rebuilt from its disk.
    pub fn reset(&mut self, node: u64, zxid: Zxid, digest: u64, now_ms: u64) {
        self.state_at(node, zxid, digest, now_ms);
    }

    fn state_at(&mut self, node: u64, zxid: Zxid, digest: u64, now_ms: u64) {
        self.last.insert(node, zxid);
        if zxid == Zxid::ZERO {
            return;
        }
        match self.digest.get(&zxid) {
            Some((d, other)) if *d != digest && self.agree.is_none() => {
                self.agree = Some(format!(
                    "at {now_ms}ms node {node} has digest {digest:016x} at {zxid}; node {other} had {d:016x}"
                ));
            }
            Some(_) => {}
            None => {
                self.digest.insert(zxid, (digest, node));
            }
        }
    }

    /// Every transaction up to `zxid` on the committing leader's history is committed
    /// (or a client was told `zxid` succeeded).
    pub fn committed(&mut self, zxid: Zxid) {
        self.committed.insert(zxid);
    }

    /// `node` established itself as the leader of `epoch`.
    pub fn established(&mut self, node: u64, epoch: u32, now_ms: u64) {
        match self.leaders.get(&epoch) {
            Some(other) if *other != node && self.one_leader.is_none() => {
                self.one_leader = Some(format!(
                    "at {now_ms}ms node {node} established epoch {epoch}, already led by node {other}"
                ));
            }
            Some(_) => {}
            None => {
                self.leaders.insert(epoch, node);
            }
        }
    }

    /// The zxids on `node`'s history, newest first (following predecessors).
    fn history(&self, node: u64) -> BTreeSet<Zxid> {
        let mut out = BTreeSet::new();
        let mut at = self.last.get(&node).copied().unwrap_or(Zxid::ZERO);
        while at != Zxid::ZERO && out.insert(at) {
            match self.prev.get(&at) {
                Some(p) => at = *p,
                None => break,
            }
        }
        out
    }

    /// The verdicts: one leader per epoch, histories agree, committed survives.
    pub fn verdicts(&self) -> Vec<Verdict> {
        let mut survives = None;
        'nodes: for node in self.last.keys() {
            let last = self.last[node];
            let hist = self.history(*node);
            for z in self.committed.range(..=last) {
                if !hist.contains(z) {
                    survives = Some(format!(
                        "committed {z} is not on node {node}'s history, which reaches {last}"
                    ));
                    break 'nodes;
                }
            }
        }
        vec![
            Verdict { name: "one-leader-per-epoch", failure: self.one_leader.clone() },
            Verdict { name: "histories-agree", failure: self.agree.clone() },
            Verdict { name: "committed-survives", failure: survives },
        ]
    }

    /// How many epochs were established.
    pub fn epochs(&self) -> usize {
        self.leaders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(e: u32, c: u32) -> Zxid {
        Zxid::new(e, c)
    }
    fn failing(h: &Histories) -> Vec<&'static str> {
        h.verdicts().into_iter().filter(|v| v.failure.is_some()).map(|v| v.name).collect()
    }

    #[test]
    fn agreeing_histories_pass() {
        let mut h = Histories::default();
        h.established(1, 1, 0);
        for (n, d) in [(1, 10), (2, 10), (3, 10)] {
            h.applied(n, z(1, 1), d, 1);
        }
        h.committed(z(1, 1));
        h.reset(3, z(1, 1), 10, 2); // a snapshot at the same point
        h.applied(1, z(1, 2), 11, 3);
        assert!(failing(&h).is_empty(), "{:?}", h.verdicts());
    }

    #[test]
    fn each_checker_fails_on_a_doctored_history() {
        let mut h = Histories::default();
        h.established(1, 1, 0);
        h.established(2, 1, 5);
        assert_eq!(failing(&h), vec!["one-leader-per-epoch"]);

        let mut h = Histories::default();
        h.applied(1, z(1, 1), 10, 1);
        h.applied(2, z(1, 1), 99, 1);
        assert_eq!(failing(&h), vec!["histories-agree"], "different digests at one zxid");

        let mut h = Histories::default();
        h.applied(1, z(1, 1), 10, 1);
        h.applied(1, z(1, 2), 11, 1);
        h.applied(2, z(1, 2), 11, 1);
        assert_eq!(failing(&h), vec!["histories-agree"], "one server skipped (1,1)");

        let mut h = Histories::default();
        h.applied(1, z(1, 1), 10, 1);
        h.committed(z(1, 1));
        h.reset(2, Zxid::ZERO, 0, 1);
        h.applied(2, z(2, 1), 20, 2); // a new epoch that lacks the committed (1,1)
        assert_eq!(failing(&h), vec!["committed-survives"]);
    }
}
