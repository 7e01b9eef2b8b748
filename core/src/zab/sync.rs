//! Choosing how to synchronise a learner (ZooKeeper's `LearnerHandler.syncFollower`).
//!
//! The leader keeps a window of committed transactions in memory. Given a learner's last
//! logged zxid, the learner must end with exactly the leader's history. Let `t` be the
//! largest zxid of the leader's window not above the learner's last zxid:
//! - the learner is at the leader's last zxid: an empty DIFF;
//! - `t` is the learner's last zxid: DIFF with everything after it;
//! - `t` is in the same epoch as the learner's last zxid: the learner has `t` (a follower
//!   logs an epoch's proposals without gaps) followed by a suffix the leader never
//!   committed, so TRUNC to `t`, then DIFF. This is the case ZOOKEEPER-1154 got wrong by
//!   sending a DIFF whenever the learner's zxid fell inside the window;
//! - otherwise (learner older than the window, or its divergent suffix spans an epoch
//!   change, where we cannot know the last common zxid): SNAP.
//!
//! Invariant (checked by a model test): applying the plan to any learner history that is
//! consistent with Zab (a zxid names one transaction everywhere; epochs are contiguous)
//! yields exactly the leader's history.

use crate::ids::Zxid;

/// How to bring a learner in line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPlan {
    /// Send every committed txn after `after` (none when `after` is the leader's last).
    Diff { after: Zxid },
    /// Truncate the learner's log to `to`, then send every committed txn after it.
    TruncThenDiff { to: Zxid },
    /// Send a full snapshot.
    Snap,
}

/// Plans the sync of a learner whose last logged zxid is `learner_last`, against the
/// leader's committed window `window` (ascending, possibly empty) whose history before its
/// first element the leader holds only in its snapshot. `window_start` is the zxid the
/// window starts after (the leader has every committed txn `<= window_start` only in the
/// tree; the learner can be DIFFed from exactly `window_start`).
pub fn plan(learner_last: Zxid, window_start: Zxid, window: &[Zxid]) -> SyncPlan {
    debug_assert!(window.windows(2).all(|w| w[0] < w[1]), "the window is ascending");
    debug_assert!(window.first().is_none_or(|f| *f > window_start));
    let leader_last = window.last().copied().unwrap_or(window_start);
    if learner_last == leader_last {
        return SyncPlan::Diff { after: learner_last };
    }
    if learner_last < window_start {
        return SyncPlan::Snap;
    }
    let t = match window.partition_point(|z| *z <= learner_last) {
        0 => window_start,
        i => window[i - 1],
    };
    if t == learner_last {
        SyncPlan::Diff { after: t }
    } else if t.epoch() == learner_last.epoch() {
        SyncPlan::TruncThenDiff { to: t }
    } else {
        SyncPlan::Snap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn z(epoch: u32, counter: u32) -> Zxid {
        Zxid::new(epoch, counter)
    }

    #[test]
    fn the_cases_by_name() {
        let window = [z(1, 4), z(1, 5), z(2, 1), z(2, 2)];
        assert_eq!(plan(z(2, 2), z(1, 3), &window), SyncPlan::Diff { after: z(2, 2) }, "in step");
        assert_eq!(plan(z(1, 5), z(1, 3), &window), SyncPlan::Diff { after: z(1, 5) }, "behind");
        assert_eq!(
            plan(z(1, 3), z(1, 3), &window),
            SyncPlan::Diff { after: z(1, 3) },
            "at the window's start"
        );
        assert_eq!(plan(z(1, 2), z(1, 3), &window), SyncPlan::Snap, "older than the window");
        assert_eq!(
            plan(z(2, 5), z(1, 3), &window),
            SyncPlan::TruncThenDiff { to: z(2, 2) },
            "ahead in the epoch"
        );
    }

    /// ZOOKEEPER-1154: A logged 74 in epoch 7 but nobody else did; B and C went on in
    /// epoch 8. A's zxid falls between the leader's 71 and 81, yet it must be truncated.
    #[test]
    fn zookeeper_1154_a_txn_only_the_learner_has_is_truncated_not_diffed() {
        let window = [z(7, 71), z(8, 1), z(8, 2)];
        assert_eq!(plan(z(7, 74), z(7, 70), &window), SyncPlan::TruncThenDiff { to: z(7, 71) });
    }

    /// Builds histories consistent with Zab: within epoch 1 one history is a prefix of the
    /// other (a follower logs an epoch's proposals without gaps); then the learner may have
    /// txns of epochs no one else logged, and the leader txns of a later epoch.
    fn histories() -> impl Strategy<Value = (Vec<Zxid>, Vec<Zxid>, usize)> {
        (1u32..8, 1u32..8, 0u32..3, 0u32..6, 0usize..8).prop_map(
            |(leader_e1, learner_e1, learner_new_epochs, leader_later, window_skip)| {
                let mut learner: Vec<Zxid> = (1..=learner_e1).map(|c| z(1, c)).collect();
                learner.extend((0..learner_new_epochs).map(|e| z(2 + e, 1)));
                let mut leader: Vec<Zxid> = (1..=leader_e1).map(|c| z(1, c)).collect();
                leader.extend((1..=leader_later).map(|c| z(9, c)));
                let skip = window_skip.min(leader.len());
                (learner, leader, skip)
            },
        )
    }

    proptest! {
        #[test]
        fn applying_the_plan_yields_the_leaders_history((learner, leader, skip) in histories()) {
            let window_start = if skip == 0 { Zxid::ZERO } else { leader[skip - 1] };
            let window = &leader[skip..];
            let learner_last = *learner.last().unwrap();
            let result: Vec<Zxid> = match plan(learner_last, window_start, window) {
                SyncPlan::Snap => leader.clone(),
                SyncPlan::Diff { after } => {
                    prop_assert!(learner.iter().all(|x| leader.contains(x)), "DIFF only when nothing diverged");
                    let mut r = learner.clone();
                    r.extend(window.iter().copied().filter(|x| *x > after));
                    r
                }
                SyncPlan::TruncThenDiff { to } => {
                    prop_assert!(learner.contains(&to), "the learner has the truncation point");
                    let mut r: Vec<Zxid> = learner.iter().copied().filter(|x| *x <= to).collect();
                    r.extend(window.iter().copied().filter(|x| *x > to));
                    r
                }
            };
            prop_assert_eq!(result, leader);
        }
    }
}
