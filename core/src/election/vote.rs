//! Votes and their total order (FastLeaderElection's `totalOrderPredicate`).
//!
//! A vote names a candidate with the state it would lead from. Votes compare by the
//! candidate's epoch, then its last zxid, then its server id, so the winner is always a
//! server with the most recent history among those voting: a node never follows a leader
//! that lacks a transaction it could have acknowledged. Invariant: the order is total
//! over distinct candidates (ties only between identical votes).

use std::cmp::Ordering;
use std::fmt;

use bytes::Bytes;

use crate::ids::{ServerId, Zxid};

/// A server's role as FastLeaderElection reports it in notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerState {
    Looking = 0,
    Following = 1,
    Leading = 2,
    Observing = 3,
}

/// A proposed leader and the history it would lead with.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Vote {
    pub leader: ServerId,
    pub zxid: Zxid,
    /// The candidate's currentEpoch (`peerEpoch` on the wire).
    pub peer_epoch: u32,
}

impl Vote {
    /// The key votes are ordered by.
    fn key(&self) -> (u32, Zxid, ServerId) {
        (self.peer_epoch, self.zxid, self.leader)
    }
    /// True when `self` should replace `current` (ZooKeeper's `totalOrderPredicate`).
    pub fn beats(&self, current: &Vote) -> bool {
        self.key() > current.key()
    }
}

impl Ord for Vote {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}
impl PartialOrd for Vote {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Vote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(leader={} zxid={} epoch={})", self.leader, self.zxid, self.peer_epoch)
    }
}

/// The configuration a server runs with, as its notifications carry it (FastLeaderElection
/// sends the sender's quorum verifier with every notification): its version (the zxid of
/// the reconfig that made it, 0 for zoo.cfg's) and its text as `/zookeeper/config` holds
/// it. A LOOKING receiver with an older configuration adopts it. Invariant: `text` is empty
/// or describes a configuration of exactly `version`; a receiver checks this before
/// adopting, and never adopts version 0.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct SenderConfig {
    /// The configuration's version (`version=` in its text).
    pub version: u64,
    /// The configuration text ([`crate::config::Ensemble::config_text`]).
    pub text: Bytes,
}

/// One election message (FastLeaderElection's `Notification` / `ToSend`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Notification {
    /// The sender's state when it sent this.
    pub state: PeerState,
    /// Whom the sender votes for (or follows, once settled).
    pub vote: Vote,
    /// The sender's logical clock (`electionEpoch`).
    pub election_epoch: u64,
    /// The configuration the sender runs with.
    pub config: SenderConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(leader: u64, zxid: u64, epoch: u32) -> Vote {
        Vote { leader: ServerId(leader), zxid: Zxid(zxid), peer_epoch: epoch }
    }

    #[test]
    fn epoch_then_zxid_then_id() {
        assert!(v(1, 0, 2).beats(&v(3, 100, 1)), "a later epoch wins over more txns");
        assert!(v(1, 5, 1).beats(&v(3, 4, 1)), "more history wins over a higher id");
        assert!(v(3, 5, 1).beats(&v(1, 5, 1)), "the id breaks ties");
        assert!(!v(3, 5, 1).beats(&v(3, 5, 1)));
    }
}
