//! Issue 4's tricky paths, scripted: competing candidates whose ids and histories disagree,
//! a deposed leader that logged proposals no one else has, and a follower that crashes in
//! the middle of its sync.

use super::*;

/// Two candidates: node 2 has the higher id, node 1 the longer committed history (node 2
/// was down while /x committed). Node 1 must lead, since a leader may never lack a
/// committed transaction, and node 2 must follow it and receive /x.
#[test]
fn competing_candidates_the_longer_history_beats_the_higher_id() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.ticks(20);
    assert_eq!(c.mode(3), Some(Mode::Leader));
    c.crash(2);
    let conn = c.client(1, 7);
    c.create(1, conn, 1, "/x");
    c.pump();
    assert!(c.acked(1, conn, 1), "/x committed on nodes 1 and 3");
    c.crash(3);
    c.start(2);
    c.ticks(40);
    assert_eq!(c.mode(1), Some(Mode::Leader), "the longer history wins over the higher id");
    assert_eq!(c.mode(2), Some(Mode::Follower));
    assert!(c.has(2, "/x"), "the follower received the committed /x");
    assert_eq!(c.node(2).tree().digest(), c.node(1).tree().digest());
}

/// The leader logs a proposal that reaches no follower, then crashes. The others elect a
/// new leader and commit in a new epoch; when the deposed leader restarts it must drop its
/// uncommitted suffix and take the new epoch's history, and its client never heard of
/// success for the lost write.
#[test]
fn a_deposed_leader_drops_the_proposals_no_one_else_logged() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.ticks(20);
    assert_eq!(c.mode(3), Some(Mode::Leader));
    let conn = c.client(3, 7);
    c.create(3, conn, 1, "/lost");
    c.pump_except(|_, _, msg| matches!(msg, PeerMsg::Proposal(_)));
    assert!(c.has(3, "/lost"), "the leader applied and logged its own proposal");
    assert!(!c.acked(3, conn, 1), "without a quorum the client gets no success");
    c.crash(3);
    c.ticks(40);
    assert_eq!(c.mode(2), Some(Mode::Leader));
    let conn1 = c.client(1, 8);
    c.create(1, conn1, 1, "/y");
    c.pump();
    assert!(c.acked(1, conn1, 1));
    c.start(3);
    c.ticks(40);
    assert_eq!(c.mode(3), Some(Mode::Follower), "the deposed leader rejoins as a follower");
    assert!(!c.has(3, "/lost"), "its uncommitted suffix is gone");
    assert!(c.has(3, "/y"), "and it has the new epoch's writes");
    assert_eq!(c.node(3).tree().digest(), c.node(2).tree().digest());
    // What it recovers from its own disk agrees too: the truncation was made durable.
    c.crash(3);
    c.start(3);
    c.ticks(40);
    assert!(!c.has(3, "/lost") && c.has(3, "/y"), "after another restart as well");
}

/// A late follower crashes after the leader's DIFF and proposals reached it but before the
/// sync finished (its NEWLEADER is held back). Restarted, it syncs again from what its disk
/// kept, ends with the leader's tree, and later writes reach it.
#[test]
fn a_follower_that_crashes_mid_sync_syncs_again_on_restart() {
    let mut c = Cluster::new(&[1, 3]);
    c.ticks(20);
    assert_eq!(c.mode(3), Some(Mode::Leader));
    let conn = c.client(1, 7);
    for (i, p) in ["/a", "/b", "/c"].iter().enumerate() {
        c.create(1, conn, i as i32 + 1, p);
        c.pump();
    }
    c.start(2);
    let mut held = Vec::new();
    for _ in 0..20 {
        for id in 1..=3 {
            c.input(id, Input::Tick { wall_ms: 0 });
        }
        held = c.pump_holding(|msg| matches!(msg, PeerMsg::NewLeader { .. }));
        if !held.is_empty() {
            break;
        }
    }
    assert!(held.iter().any(|(_, to, _)| *to == 2), "node 2's NEWLEADER was held back");
    assert_ne!(c.mode(2), Some(Mode::Follower), "node 2 is still syncing");
    c.crash(2);
    c.start(2);
    c.ticks(40);
    assert_eq!(c.mode(2), Some(Mode::Follower));
    assert_eq!(c.mode(3), Some(Mode::Leader), "the leader was not disturbed");
    assert_eq!(c.node(2).tree().digest(), c.node(3).tree().digest());
    // (The first client's session has expired meanwhile: it never pinged.)
    let conn = c.client(1, 8);
    c.create(1, conn, 1, "/d");
    c.pump();
    assert!(c.acked(1, conn, 1) && c.has(3, "/d"), "the write committed");
    assert!(c.has(2, "/d"), "later writes reach the re-synced follower");
}

#[test]
fn a_learner_whose_first_learner_info_was_dropped_asks_again_before_init_limit() {
    // A restarted member decides to follow before the leader's link to it is up: its first
    // LEARNERINFO is dropped. It must ask again, not wait out initLimit.
    let mut c = Cluster::new(&[1, 2, 3]);
    c.ticks(20);
    assert_eq!(c.mode(3), Some(Mode::Leader));
    c.crash(2);
    c.ticks(5);
    c.start(2);
    let dropped = std::cell::Cell::new(0);
    c.pump_except(|from, _, msg| {
        let first = from == 2 && matches!(msg, PeerMsg::LearnerInfo { .. }) && dropped.get() == 0;
        if first {
            dropped.set(1);
        }
        first
    });
    assert_eq!(dropped.get(), 1, "node 2 decided to follow and sent LEARNERINFO");
    let init = c.node(2).config().ensemble.as_ref().map_or(10, |e| e.init_limit_ticks);
    for _ in 0..init {
        if c.mode(2) == Some(Mode::Follower) {
            return;
        }
        c.ticks(1);
    }
    panic!("node 2 did not sync within initLimit ({init} ticks): {:?}", c.mode(2));
}
