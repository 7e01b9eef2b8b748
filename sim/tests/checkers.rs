//! Each checker passes a correct history and fails a doctored one: a checker that cannot
//! fail proves nothing. These need no node: they feed the checkers plain data.

use std::collections::BTreeSet;

use keeper_core::Zxid;
use keeper_sim::check::{self, Op, Recovery, CONNECTION_LOSS};

fn op(session: i64, xid: i32, write: bool, done: u64, zxid: u64) -> Op {
    Op {
        client: 0,
        session,
        xid,
        kind: if write { "set" } else { "get" },
        is_write: write,
        node: 1,
        invoke_ms: done.saturating_sub(5),
        complete_ms: Some(done),
        err: Some(0),
        zxid: Some(Zxid(zxid)),
    }
}

fn good_history() -> Vec<Op> {
    vec![
        op(1, 1, true, 10, 3),
        op(1, 2, false, 12, 3),
        op(2, 1, true, 13, 4),
        op(1, 3, true, 20, 5),
    ]
}

#[test]
fn zxids_increase_passes_and_fails() {
    let good = vec![(1, vec![Zxid(1), Zxid(2), Zxid(0x1_0000_0000)])];
    assert_eq!(check::zxids_increase(&good).failure, None);
    let repeated = vec![(1, vec![Zxid(1), Zxid(2), Zxid(2)])];
    let f = check::zxids_increase(&repeated).failure.expect("a repeated zxid must fail");
    assert!(f.contains("0x2 followed by 0x2"), "{f}");
    let backwards = vec![(1, vec![Zxid(1)]), (2, vec![Zxid(5), Zxid(4)])];
    assert!(check::zxids_increase(&backwards).failure.expect("must fail").starts_with("node 2"));
}

#[test]
fn acked_writes_durable_passes_and_fails() {
    let h = good_history();
    let full = Recovery::from_log(1, 15, vec![Zxid(1), Zxid(3), Zxid(4)]);
    assert_eq!(check::acked_writes_durable(&h, &[full]).failure, None);
    // Zxid 5 was acknowledged at 20ms, after the crash at 15ms: losing it is allowed.
    let lost_unacked = Recovery::from_log(1, 15, vec![Zxid(3), Zxid(4)]);
    assert_eq!(check::acked_writes_durable(&h, &[lost_unacked]).failure, None);
    // Zxid 3 was acknowledged at 10ms, before the crash: losing it is a failure.
    let lost_acked = Recovery::from_log(1, 15, vec![Zxid(4)]);
    let f = check::acked_writes_durable(&h, &[lost_acked]).failure.expect("must fail");
    assert!(f.contains("acked write 0x3"), "{f}");
}

#[test]
fn session_order_passes_and_fails_on_xid_order() {
    assert_eq!(check::session_order(&good_history()).failure, None);
    let mut h = good_history();
    // Session 1's xid 2 now arrives after xid 3.
    h[1].complete_ms = Some(25);
    h[1].zxid = Some(Zxid(5));
    let f = check::session_order(&h).failure.expect("replies out of xid order must fail");
    assert!(f.contains("reply xid 2 after xid 3"), "{f}");
}

#[test]
fn session_order_fails_when_a_read_goes_back_in_time() {
    let mut h = good_history();
    // The read after the write at zxid 3 reports zxid 2: older state than the session saw.
    h[1].zxid = Some(Zxid(2));
    let f = check::session_order(&h).failure.expect("a stale read must fail");
    assert!(f.contains("xid 2 saw zxid Some(0x2)"), "{f}");
}

#[test]
fn session_order_ignores_ops_lost_with_the_connection() {
    let mut h = good_history();
    h[1].err = Some(CONNECTION_LOSS);
    h[1].zxid = None;
    assert_eq!(check::session_order(&h).failure, None);
}

#[test]
fn liveness_passes_and_fails() {
    let h = good_history();
    assert_eq!(check::liveness(&h, 0, 100, 50, &none()).failure, None);
    // Pending since 10ms, 90ms before the end, with a 50ms bound.
    let mut stuck = good_history();
    stuck[0].complete_ms = None;
    let f = check::liveness(&stuck, 0, 100, 50, &none()).failure.expect("a stuck op must fail");
    assert!(f.contains("never completed"), "{f}");
    // Pending but invoked only 20ms before the end: still within the bound.
    stuck[0].invoke_ms = 80;
    assert_eq!(check::liveness(&stuck, 0, 100, 50, &none()).failure, None);
    // Completed, but 200ms after faults ended, with a 50ms bound.
    let mut slow = good_history();
    slow[3].complete_ms = Some(300);
    let f = check::liveness(&slow, 50, 400, 50, &none()).failure.expect("a slow op must fail");
    assert!(f.contains("took until 300ms"), "{f}");
}

#[test]
fn liveness_fails_on_connection_loss_long_after_faults_end() {
    let mut h = good_history();
    h[3].err = Some(CONNECTION_LOSS);
    assert_eq!(
        check::liveness(&h, 15, 100, 10, &none()).failure,
        None,
        "15+10 > 15: too early to judge"
    );
    let f = check::liveness(&h, 0, 100, 10, &none()).failure.expect("loss after healing must fail");
    assert!(f.contains("lost its connection"), "{f}");
    // Unless that op went to a server that is down at the end (its disk refused recovery):
    // its clients can only lose their connection; ops on the servers that are up must work.
    let down: BTreeSet<u64> = [h[3].node].into();
    assert_eq!(check::liveness(&h, 0, 100, 10, &down).failure, None);
    let other: BTreeSet<u64> = [h[3].node + 1].into();
    assert!(check::liveness(&h, 0, 100, 10, &other).failure.is_some(), "another server down");
}

fn none() -> BTreeSet<u64> {
    BTreeSet::new()
}

/// The recovery checker fails when a restarted node's tree differs from a replay of its
/// whole durable log (as a snapshot labelled one txn late would make it).
#[test]
fn recovery_matches_log_can_fail() {
    use keeper_sim::check::recovery_matches_log;
    let mut r = Recovery::from_log(1, 15, vec![Zxid(1)]);
    r.recovered_digest = 7;
    r.replayed_digest = 7;
    assert!(recovery_matches_log(&[r.clone()]).failure.is_none());
    r.snapshot_zxid = Zxid(9);
    r.recovered_digest = 8;
    let v = recovery_matches_log(&[r]);
    assert!(v.failure.as_deref().is_some_and(|f| f.contains("snapshot 0x9")), "{v:?}");
}

/// The damage checker fails when a recovery handed the node a record that differs from
/// what was written (a checksum that let damage through).
#[test]
fn damage_never_applied_can_fail() {
    use keeper_sim::check::damage_never_applied;
    let mut r = Recovery::from_log(1, 15, vec![Zxid(1), Zxid(2)]);
    assert!(damage_never_applied(&[r.clone()]).failure.is_none());
    r.unfaithful = vec![Zxid(2)];
    let f = damage_never_applied(&[r]).failure.expect("a damaged record was applied");
    assert!(f.contains("damaged records [0x2]"), "{f}");
}

/// The watch-order checker fails when a session receives the event for a transaction after
/// a reply that already reflected it, and allows a re-registration event at the state the
/// client had seen (setWatches reports the server's current state).
#[test]
fn watch_order_passes_and_fails() {
    use check::Seen;
    let (s, z) = (7, Zxid);
    let good = [
        Seen::Reply { session: s, zxid: z(4) },
        Seen::Watch { session: s, zxid: z(5), rewatch: false },
        Seen::Reply { session: s, zxid: z(5) },
        Seen::Reply { session: 8, zxid: z(9) }, // another session's view does not count
        Seen::Watch { session: s, zxid: z(6), rewatch: false },
        Seen::Watch { session: s, zxid: z(5), rewatch: true },
    ];
    assert_eq!(check::watch_order(&good).failure, None);
    let late = [
        Seen::Reply { session: s, zxid: z(5) },
        Seen::Watch { session: s, zxid: z(5), rewatch: false },
    ];
    let f = check::watch_order(&late).failure.expect("the event came after its data");
    assert!(f.contains("arrived after a reply"), "{f}");
    let stale = [
        Seen::Reply { session: s, zxid: z(6) },
        Seen::Watch { session: s, zxid: z(5), rewatch: true },
    ];
    assert!(check::watch_order(&stale).failure.is_some(), "a re-registration behind the client");
}

#[test]
fn disk_full_refuses_writes_passes_and_fails() {
    use keeper_sim::check_faults::{full_refuses_writes, FullWindow};
    let full = [FullWindow { node: 1, from_ms: 100, to_ms: 200 }];
    // Writes before, after, refused inside, and on another node all pass.
    let mut refused = op(1, 4, true, 150, 0);
    refused.err = Some(-119);
    let mut elsewhere = op(1, 5, true, 150, 6);
    elsewhere.node = 2;
    let good = [op(1, 1, true, 90, 3), refused, elsewhere, op(1, 6, true, 260, 7)];
    assert_eq!(full_refuses_writes(&good, &full).failure, None);
    // A write that succeeded on the full node fails the check.
    let bad = [op(1, 1, true, 150, 3)];
    let f = full_refuses_writes(&bad, &full).failure.expect("a write succeeded while full");
    assert!(f.contains("while its disk was full"), "{f}");
}

#[test]
fn abandoned_sessions_expire_passes_and_fails() {
    use keeper_sim::check_faults::{abandoned_sessions_expire, AbandonedFate};
    let fate = AbandonedFate {
        client: 0,
        session: 7,
        last_sent_ms: 3000,
        timeout_ms: 4000,
        closed_ms: Some(8200),
        due: true,
        left: vec![(1, Vec::new()), (2, Vec::new())],
    };
    assert_eq!(abandoned_sessions_expire(std::slice::from_ref(&fate)).failure, None);
    let early = AbandonedFate { closed_ms: Some(6000), ..fate.clone() };
    let f = abandoned_sessions_expire(&[early]).failure.expect("expired early");
    assert!(f.contains("before its timeout"), "{f}");
    let never = AbandonedFate { closed_ms: None, ..fate.clone() };
    assert!(abandoned_sessions_expire(&[never]).failure.unwrap().contains("never expired"));
    let left = AbandonedFate { left: vec![(2, vec!["/e0-1".into()])], ..fate.clone() };
    assert!(abandoned_sessions_expire(&[left]).failure.unwrap().contains("/e0-1"));
    // Not yet due: an open session is fine.
    let open = AbandonedFate { closed_ms: None, due: false, ..fate };
    assert_eq!(abandoned_sessions_expire(&[open]).failure, None);
}

#[test]
fn reads_within_header_fails_a_reply_showing_a_newer_change_than_its_header() {
    use keeper_core::proto::{Response, Stat};
    let stat = Stat { czxid: 3, mzxid: 7, pzxid: 5, ..Stat::default() };
    let get = Ok(Response::GetData { data: None, stat });
    assert_eq!(check::stat_ahead_of_header(Zxid(7), &get), None);
    assert_eq!(check::stat_ahead_of_header(Zxid(9), &get), None);
    assert_eq!(check::stat_ahead_of_header(Zxid(6), &get), Some(Zxid(7)));
    let exists = Ok(Response::Stat(Stat { pzxid: 8, ..stat }));
    assert_eq!(check::stat_ahead_of_header(Zxid(7), &exists), Some(Zxid(8)));
    assert_eq!(check::stat_ahead_of_header(Zxid(0), &Ok(Response::Empty)), None);
}
