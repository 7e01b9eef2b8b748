//! Who votes, and what counts as a quorum (ZooKeeper's `QuorumMaj`).
//!
//! Participants vote; observers never do and can never be elected. A set is a quorum when
//! it holds more than half of the participants. Invariant: any two quorums of the same
//! view intersect (checked against brute force in the tests).

use std::collections::BTreeSet;

use crate::ids::ServerId;

/// The voting members of one configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumView {
    participants: BTreeSet<ServerId>,
    observers: BTreeSet<ServerId>,
}

impl QuorumView {
    /// A view from its participants and observers (disjoint; at least one participant).
    pub fn new(
        participants: impl IntoIterator<Item = ServerId>,
        observers: impl IntoIterator<Item = ServerId>,
    ) -> Self {
        let participants: BTreeSet<ServerId> = participants.into_iter().collect();
        let observers: BTreeSet<ServerId> =
            observers.into_iter().filter(|o| !participants.contains(o)).collect();
        assert!(!participants.is_empty(), "a configuration needs a participant");
        QuorumView { participants, observers }
    }
    /// True when `id` votes.
    pub fn is_voter(&self, id: ServerId) -> bool {
        self.participants.contains(&id)
    }
    /// The voting members, in id order.
    pub fn voters(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.participants.iter().copied()
    }
    /// Every member, voters first, in id order within each group.
    pub fn members(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.participants.iter().chain(self.observers.iter()).copied()
    }
    /// True when the voters among `ids` are more than half of all voters.
    pub fn is_quorum<'a>(&self, ids: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let n = ids
            .into_iter()
            .filter(|id| self.participants.contains(id))
            .collect::<BTreeSet<_>>()
            .len();
        2 * n > self.participants.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majorities_intersect_and_observers_do_not_count() {
        for n in 1..=7u64 {
            let view = QuorumView::new((1..=n).map(ServerId), [ServerId(100)]);
            let subsets: Vec<Vec<ServerId>> = (0u32..(1 << n))
                .map(|mask| (1..=n).filter(|i| mask & (1 << (i - 1)) != 0).map(ServerId).collect())
                .collect();
            let quorums: Vec<&Vec<ServerId>> =
                subsets.iter().filter(|s| view.is_quorum(s.iter())).collect();
            for a in &quorums {
                for b in &quorums {
                    assert!(a.iter().any(|x| b.contains(x)), "n={n}: {a:?} and {b:?} are disjoint");
                }
            }
            let all: Vec<ServerId> = (1..=n).map(ServerId).collect();
            assert!(view.is_quorum(all.iter()));
            assert!(!view.is_quorum([ServerId(100)].iter()), "observers never make a quorum");
        }
    }
}
