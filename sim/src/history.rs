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
    /// zxid → what the first servers to reach it saw (one lookup per applied transaction).
    at: BTreeMap<Zxid, At>,
    /// server → the last zxid its tree holds.
    last: BTreeMap<u64, Zxid>,
    committed: BTreeSet<Zxid>,
    /// epoch → the server that established it.
    leaders: BTreeMap<u32, u64>,
    one_leader: Option<String>,
    agree: Option<String>,
}

/// One zxid's record: the zxid applied just before it by the first server that applied it,
/// and the tree digest after it with the first server that reported it.
#[derive(Debug, Default)]
struct At {
    prev: Option<Zxid>,
    digest: Option<(u64, u64)>,
}

impl Histories {
    /// `node` applied `zxid`, reaching `digest`, at `now_ms`.
    pub fn applied(&mut self, node: u64, zxid: Zxid, digest: u64, now_ms: u64) {
        let before = self.last.get(&node).copied().unwrap_or(Zxid::ZERO);
        if zxid <= before && self.agree.is_none() {
            self.agree = Some(format!("at {now_ms}ms node {node} applied {zxid} after {before}"));
        }
        let at = self.at.entry(zxid).or_default();
        match at.prev {
            Some(p) if p != before && self.agree.is_none() => {
                self.agree = Some(format!(
                    "at {now_ms}ms node {node} applied {zxid} after {before}; another server applied it after {p}"
                ));
            }
            Some(_) => {}
            None => at.prev = Some(before),
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
        let at = self.at.entry(zxid).or_default();
        match at.digest {
            Some((d, other)) if d != digest && self.agree.is_none() => {
                self.agree = Some(format!(
                    "at {now_ms}ms node {node} has digest {digest:016x} at {zxid}; node {other} had {d:016x}"
                ));
            }
            Some(_) => {}
            None => at.digest = Some((digest, node)),
        }
    }

    /// Every transaction up to `zxid` on the committing leader's history is committed
    /// (or a client was told `zxid` succeeded).
    pub fn committed(&mut self, zxid: Zxid) {
        self.committed.insert(zxid);
    }

    /// True when `zxid` is on the history of the newest committed transaction so far (the
    /// committed transactions form one history while `histories-agree` holds). Where that
    /// history is not known back to `zxid` (it starts at a snapshot), not newer is enough.
    pub fn is_committed(&self, zxid: Zxid) -> bool {
        let Some(&newest) = self.committed.last() else { return false };
        let mut at = newest;
        while at > zxid {
            match self.at.get(&at).and_then(|a| a.prev) {
                Some(p) => at = p,
                None => return true,
            }
        }
        at == zxid
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

    /// The zxids on `node`'s history (following predecessors from its last), oldest first.
    /// A well-formed history descends at every step; one that does not (which
    /// `histories-agree` reports) is followed until it repeats a zxid, then sorted.
    fn history(&self, node: u64) -> Vec<Zxid> {
        let mut out = Vec::new();
        let mut at = self.last.get(&node).copied().unwrap_or(Zxid::ZERO);
        // Built only once the walk stops descending (a descending walk cannot repeat).
        let mut seen: Option<BTreeSet<Zxid>> = None;
        while at != Zxid::ZERO {
            let fresh = match (&mut seen, out.last()) {
                (Some(set), _) => set.insert(at),
                (None, Some(&newer)) if at >= newer => {
                    let mut set: BTreeSet<Zxid> = out.iter().copied().collect();
                    let fresh = set.insert(at);
                    seen = Some(set);
                    fresh
                }
                _ => true,
            };
            if !fresh {
                break;
            }
            out.push(at);
            match self.at.get(&at).and_then(|a| a.prev) {
                Some(p) => at = p,
                None => break,
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The verdicts: one leader per epoch, histories agree, committed survives.
    pub fn verdicts(&self) -> Vec<Verdict> {
        let mut survives = None;
        'nodes: for node in self.last.keys() {
            let last = self.last[node];
            let hist = self.history(*node);
            let mut on = hist.iter().peekable();
            for z in self.committed.range(..=last) {
                // Both ascending: skip history entries below `z`, then `z` must be next.
                while on.next_if(|h| **h < *z).is_some() {}
                if on.next_if_eq(&z).is_none() {
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
    fn a_cyclic_history_is_reported_and_walked_once() {
        // Snapshots (resets) set a server's position without a predecessor, so a doctored
        // run can make two zxids each other's predecessor.
        let (a, b) = (z(1, 2), z(1, 1));
        let mut h = Histories::default();
        h.reset(1, a, 20, 1);
        h.applied(1, b, 10, 2); // b after a: out of order
        h.reset(2, b, 10, 3);
        h.applied(2, a, 20, 4); // a after b: a → b → a
        h.committed(a);
        h.committed(b);
        assert_eq!(h.history(2), vec![b, a]);
        assert_eq!(failing(&h), vec!["histories-agree"]);
    }

    #[test]
    fn committed_means_on_the_newest_committed_history() {
        let mut h = Histories::default();
        h.applied(1, z(1, 1), 10, 1);
        h.applied(1, z(1, 2), 11, 2);
        h.applied(2, z(1, 1), 10, 2);
        h.applied(2, z(1, 3), 12, 3); // logged by node 2 only after (1,1), never committed
        assert!(!h.is_committed(z(1, 1)), "nothing committed yet");
        h.committed(z(1, 2));
        assert!(h.is_committed(z(1, 1)) && h.is_committed(z(1, 2)));
        assert!(!h.is_committed(z(1, 3)), "(1,3) is newer than every commit");
        h.applied(1, z(2, 1), 20, 4);
        h.committed(z(2, 1));
        assert!(!h.is_committed(z(1, 3)), "(1,3) is not on the committed history");
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
