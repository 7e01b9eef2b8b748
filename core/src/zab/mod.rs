//! Zab: discovery, synchronisation and broadcast (ZooKeeper's `Leader`, `LearnerHandler`,
//! `Learner`), as pure pieces the node's roles are built from.
//!
//! - [`sync`] decides how a learner is brought in line with the leader (DIFF, TRUNC+DIFF
//!   or SNAP) from the learner's last zxid and the leader's committed window.
//! - [`broadcast`] tracks outstanding proposals, counts acknowledgements against the
//!   quorum, and releases commits in zxid order.

pub mod broadcast;
pub mod sync;
