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
    /// Elections ignore the zxid (every vote claims zxid 0, so the highest id wins), and
    /// the new leader does not check at ACKEPOCH that no learner is ahead of it: a server
    /// missing committed data can lead, and the sync truncates the others. Caught by
    /// `committed-survives` when a lagging server with the highest id comes back.
    pub vote_ignores_zxid: bool,
    /// The leader answers a learner with a divergent suffix by DIFF from the last common
    /// zxid instead of truncating it (ZOOKEEPER-1154's bug): the learner keeps a suffix no
    /// one else has. Caught by `histories-agree` when a deposed leader rejoins.
    pub skip_truncate: bool,
    /// A watch event leaves after the next reply the server sends, so a client can see
    /// the data that fired it before the event. Caught by `watch-order`.
    pub watch_after_data: bool,
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
            "vote-ignores-zxid" => self.vote_ignores_zxid = true,
            "skip-truncate" => self.skip_truncate = true,
            "watch-after-data" => self.watch_after_data = true,
            other => {
                return Err(format!(
                    "unknown planted bug {other:?} (known: reply-before-persist, \
                     commit-without-quorum, vote-ignores-zxid, skip-truncate, watch-after-data)"
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
    /// True when elections and the ACKEPOCH check ignore zxids.
    pub fn votes_ignore_zxid(&self) -> bool {
        ENABLED && self.vote_ignores_zxid
    }
    /// True when a leader DIFFs a learner across its divergent suffix.
    pub fn skips_truncate(&self) -> bool {
        ENABLED && self.skip_truncate
    }
    /// True when watch events are held back behind the next reply.
    pub fn watches_after_data(&self) -> bool {
        ENABLED && self.watch_after_data
    }
}
