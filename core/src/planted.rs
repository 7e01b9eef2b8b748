//! Known wrong behaviours, planted on purpose to prove the simulator's checkers can fail
//! (issue 3: "a checker that never fails proves nothing").
//!
//! A bug here changes behaviour only when the crate is built with the `planted-bugs` feature
//! AND the node's configuration switches it on; release builds compile every plant out
//! (`ENABLED` is false and the checks below are constant-folded away). Each bug names the
//! checker expected to catch it, and a test in keeper-sim shows a small swarm does.

/// Which planted bugs a node runs with. All off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlantedBugs {
    /// Release replies and watch events without waiting for the disk (ACK before
    /// persist). Caught by `acked-writes-durable` when a crash loses unsynced writes.
    pub reply_before_persist: bool,
    /// A leader commits a proposal on its own fsync, without a quorum. Caught by
    /// `committed-survives` when that leader is cut off and deposed.
    pub commit_without_quorum: bool,
}

/// True when this build can plant bugs at all.
pub const ENABLED: bool = cfg!(feature = "planted-bugs");

impl PlantedBugs {
    /// Parses a planted bug's name as scenario files spell it.
    pub fn enable(&mut self, name: &str) -> Result<(), String> {
        if !ENABLED {
            return Err(format!(
                "planted bug {name:?}: this build has no planted bugs (feature planted-bugs)"
            ));
        }
        match name {
            "reply-before-persist" => self.reply_before_persist = true,
            "commit-without-quorum" => self.commit_without_quorum = true,
            other => {
                return Err(format!(
                    "unknown planted bug {other:?} (known: reply-before-persist, \
                     commit-without-quorum)"
                ))
            }
        }
        Ok(())
    }
    /// True when replies skip the disk.
    pub fn replies_skip_disk(&self) -> bool {
        ENABLED && self.reply_before_persist
    }
    /// True when a leader commits without a quorum.
    pub fn commits_alone(&self) -> bool {
        ENABLED && self.commit_without_quorum
    }
}
