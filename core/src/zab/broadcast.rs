//! The leader's outstanding proposals: who acknowledged what, and what may commit.
//!
//! Followers log proposals in order and acknowledge after their own fsync, so an ACK for
//! zxid `z` from a follower means it holds every proposal up to `z`: acks are cumulative.
//! The leader's own durable write counts the same way, through `ack(leader_id, ..)` once
//! its `Persisted` covers the proposal (persist before promise). A proposal commits when a
//! quorum has acknowledged it and every earlier proposal has committed. While a
//! reconfiguration is in flight, a proposal may also need a quorum of the proposed
//! configuration (`propose_joint`), as ZooKeeper's per-proposal verifier list does.
//! Invariant: commits come out strictly increasing and contiguous over the proposed zxids.

use std::collections::{BTreeMap, BTreeSet};

use crate::election::QuorumView;
use crate::ids::{ServerId, Zxid};

/// Outstanding proposals of one leader epoch.
#[derive(Clone, Debug)]
pub struct Outstanding {
    view: QuorumView,
    acks: BTreeMap<Zxid, BTreeSet<ServerId>>,
    /// Proposals that also need a quorum of another configuration.
    joint: BTreeMap<Zxid, QuorumView>,
    last_committed: Zxid,
}

/// Why an acknowledgement was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckError {
    /// The zxid was never proposed (or is from another epoch).
    AckForUnknownZxid,
}

impl Outstanding {
    /// Nothing outstanding; `last_committed` is where this epoch's history starts.
    pub fn new(view: QuorumView, last_committed: Zxid) -> Outstanding {
        Outstanding { view, acks: BTreeMap::new(), joint: BTreeMap::new(), last_committed }
    }
    /// The last zxid committed.
    pub fn last_committed(&self) -> Zxid {
        self.last_committed
    }
    /// Proposals waiting for their quorum.
    pub fn len(&self) -> usize {
        self.acks.len()
    }
    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.acks.is_empty()
    }
    /// Records a new proposal; zxids must increase.
    pub fn propose(&mut self, zxid: Zxid) {
        let last = self.acks.keys().next_back().copied().unwrap_or(self.last_committed);
        assert!(zxid > last, "proposal {zxid} after {last}");
        self.acks.insert(zxid, BTreeSet::new());
    }
    /// Records a proposal that commits only with a quorum of both the current view and
    /// `also` (a proposed configuration).
    pub fn propose_joint(&mut self, zxid: Zxid, also: QuorumView) {
        self.propose(zxid);
        self.joint.insert(zxid, also);
    }
    /// The configuration changed: later commits count in `view`.
    pub fn set_view(&mut self, view: QuorumView) {
        self.view = view;
    }
    /// Records that `from` has durably logged every proposal up to `zxid`; returns the
    /// zxids that commit as a result, in order.
    pub fn ack(&mut self, from: ServerId, zxid: Zxid) -> Result<Vec<Zxid>, AckError> {
        if zxid <= self.last_committed {
            return Ok(Vec::new()); // late ack of something already committed
        }
        if !self.acks.contains_key(&zxid) {
            return Err(AckError::AckForUnknownZxid);
        }
        for (_, set) in self.acks.range_mut(..=zxid) {
            set.insert(from);
        }
        let mut committed = Vec::new();
        while let Some((&first, set)) = self.acks.iter().next() {
            let joint_ok = self.joint.get(&first).is_none_or(|v| v.is_quorum(set.iter()));
            if !self.view.is_quorum(set.iter()) || !joint_ok {
                break;
            }
            self.acks.remove(&first);
            self.joint.remove(&first);
            self.last_committed = first;
            committed.push(first);
        }
        Ok(committed)
    }
    /// Commits every outstanding proposal up to `zxid` regardless of acks. Only the
    /// planted bug `commit-without-quorum` calls this.
    pub fn commit_through(&mut self, zxid: Zxid) -> Vec<Zxid> {
        let done: Vec<Zxid> = self.acks.range(..=zxid).map(|(z, _)| *z).collect();
        for z in &done {
            self.acks.remove(z);
            self.joint.remove(z);
            self.last_committed = *z;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> QuorumView {
        QuorumView::new([ServerId(1), ServerId(2), ServerId(3)], [ServerId(9)])
    }

    #[test]
    fn commits_need_a_quorum_and_come_in_order() {
        let mut o = Outstanding::new(view(), Zxid::new(1, 0));
        for c in 1..=3 {
            o.propose(Zxid::new(1, c));
        }
        assert_eq!(o.ack(ServerId(2), Zxid::new(1, 3)), Ok(vec![]), "one ack is no quorum");
        assert_eq!(o.ack(ServerId(9), Zxid::new(1, 3)), Ok(vec![]), "observers do not count");
        assert_eq!(o.ack(ServerId(1), Zxid::new(1, 2)), Ok(vec![Zxid::new(1, 1), Zxid::new(1, 2)]));
        assert_eq!(o.ack(ServerId(3), Zxid::new(1, 3)), Ok(vec![Zxid::new(1, 3)]));
        assert!(o.is_empty());
        assert_eq!(o.ack(ServerId(1), Zxid::new(1, 3)), Ok(vec![]), "late acks are harmless");
        assert_eq!(o.ack(ServerId(1), Zxid::new(1, 7)), Err(AckError::AckForUnknownZxid));
    }

    #[test]
    fn a_joint_proposal_needs_a_quorum_of_both_configurations() {
        let mut o = Outstanding::new(view(), Zxid::new(1, 0));
        let next = QuorumView::new([1, 2, 3, 4, 5].map(ServerId), []);
        o.propose_joint(Zxid::new(1, 1), next);
        assert_eq!(o.ack(ServerId(1), Zxid::new(1, 1)), Ok(vec![]));
        assert_eq!(o.ack(ServerId(2), Zxid::new(1, 1)), Ok(vec![]), "old majority alone");
        assert_eq!(o.ack(ServerId(4), Zxid::new(1, 1)), Ok(vec![Zxid::new(1, 1)]));
    }
}
