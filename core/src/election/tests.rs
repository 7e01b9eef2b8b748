//! Election tests: a tiny message-passing harness, random delivery orders, and the
//! tricky paths (late joiner, observers, stragglers). Each test names the
//! FastLeaderElection behaviour it checks.

use std::collections::{BTreeMap, VecDeque};

use proptest::prelude::*;

use super::*;

const TIMING: Timing = Timing { finalize_wait_ticks: 1, resend_min_ticks: 2, resend_max_ticks: 16 };

/// Elections wired together by an in-memory network. Settled servers answer LOOKING
/// notifications with `settled_reply`, as a Node does.
struct Net {
    elections: BTreeMap<ServerId, Election>,
    decided: BTreeMap<ServerId, (Vote, PeerState, u64)>,
    queue: VecDeque<(ServerId, ServerId, Notification)>,
    rng: u64,
}

impl Net {
    fn new(voters: &[u64], observers: &[u64], seed: u64) -> Net {
        let view = QuorumView::new(
            voters.iter().map(|v| ServerId(*v)),
            observers.iter().map(|o| ServerId(*o)),
        );
        let elections = voters
            .iter()
            .chain(observers)
            .map(|id| (ServerId(*id), Election::new(ServerId(*id), view.clone(), TIMING)))
            .collect();
        Net { elections, decided: BTreeMap::new(), queue: VecDeque::new(), rng: seed | 1 }
    }
    fn start(&mut self, id: u64, zxid: u64, epoch: u32) {
        let out = self.elections.get_mut(&ServerId(id)).unwrap().start(Zxid(zxid), epoch);
        self.absorb(ServerId(id), out);
    }
    fn absorb(&mut self, from: ServerId, out: Vec<ElectionOutput>) {
        for o in out {
            match o {
                ElectionOutput::Send { to, n } => self.queue.push_back((from, to, n)),
                ElectionOutput::Decided { vote, state } => {
                    let round = self.elections[&from].logical_clock();
                    assert!(
                        self.decided.insert(from, (vote, state, round)).is_none(),
                        "decided twice"
                    );
                }
            }
        }
    }
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
    /// Delivers queued messages in a random order until none are left.
    fn deliver_all(&mut self) {
        while !self.queue.is_empty() {
            let i = (self.next_random() % self.queue.len() as u64) as usize;
            let (from, to, n) = self.queue.remove(i).unwrap();
            if let Some((vote, state, round)) = self.decided.get(&to).copied() {
                if n.state == PeerState::Looking {
                    self.queue.push_back((
                        to,
                        from,
                        settled_reply(vote, round, state, SenderConfig::default()),
                    ));
                }
                continue;
            }
            let Some(e) = self.elections.get_mut(&to) else { continue };
            let out = e.on_notification(from, n);
            self.absorb(to, out);
        }
    }
    fn tick_all(&mut self) {
        let ids: Vec<ServerId> = self.elections.keys().copied().collect();
        for id in ids {
            if self.decided.contains_key(&id) {
                continue;
            }
            let out = self.elections.get_mut(&id).unwrap().on_tick();
            self.absorb(id, out);
        }
    }
    fn run(&mut self, max_ticks: usize) {
        for _ in 0..max_ticks {
            self.deliver_all();
            self.tick_all();
            self.deliver_all();
        }
    }
}

/// The FLE invariant with all voters up and messages delivered within the finalize wait:
/// everyone settles on the best vote (highest epoch, then zxid, then id).
#[test]
fn all_voters_agree_on_the_most_up_to_date_server() {
    let mut net = Net::new(&[1, 2, 3], &[], 9);
    net.start(1, 0x1_0000_0005, 1);
    net.start(2, 0x1_0000_0007, 1);
    net.start(3, 0x1_0000_0006, 1);
    net.run(4);
    assert_eq!(net.decided.len(), 3);
    for (id, (vote, state, _)) in &net.decided {
        assert_eq!(vote.leader, ServerId(2), "server {id}");
        let want = if *id == ServerId(2) { PeerState::Leading } else { PeerState::Following };
        assert_eq!(*state, want);
    }
}

/// ZOOKEEPER-1732: a server restarting into an established ensemble must join it, even
/// though the followers' votes carry other zxids than its own round's.
#[test]
fn a_late_joiner_follows_the_established_leader() {
    let mut net = Net::new(&[1, 2, 3, 4], &[], 3);
    net.start(1, 5, 1);
    net.start(2, 5, 1);
    net.start(3, 9, 1);
    net.run(4);
    assert_eq!(net.decided.len(), 3, "three of four voters are a quorum");
    net.start(4, 2, 1);
    net.run(4);
    let (vote, state, _) = net.decided[&ServerId(4)];
    assert_eq!((vote.leader, state), (ServerId(3), PeerState::Following));
}

/// Observers never vote and are never elected, but they learn the leader.
#[test]
fn an_observer_observes_and_is_never_counted() {
    let mut net = Net::new(&[1, 2, 3], &[7], 5);
    for (id, zxid) in [(1, 3), (2, 4), (3, 1), (7, 100)] {
        net.start(id, zxid, 1);
    }
    net.run(4);
    assert_eq!(net.decided[&ServerId(7)].0.leader, ServerId(2));
    assert_eq!(net.decided[&ServerId(7)].1, PeerState::Observing);
    // A lone voter plus the observer is no quorum.
    let mut net = Net::new(&[1, 2, 3], &[7], 5);
    net.start(1, 3, 1);
    net.start(7, 0, 1);
    net.run(8);
    assert!(net.decided.is_empty(), "{:?}", net.decided);
}

/// A notification from an older round is answered with the current proposal.
#[test]
fn a_straggler_from_an_old_round_is_told_the_current_one() {
    let view = QuorumView::new([ServerId(1), ServerId(2), ServerId(3)], []);
    let mut e = Election::new(ServerId(1), view, TIMING);
    e.start(Zxid(1), 1);
    e.start(Zxid(1), 1); // round 2
    let old = Notification {
        state: PeerState::Looking,
        vote: Vote { leader: ServerId(2), zxid: Zxid(9), peer_epoch: 1 },
        election_epoch: 1,
        config: SenderConfig::default(),
    };
    let out = e.on_notification(ServerId(2), old);
    assert!(
        matches!(&out[..], [ElectionOutput::Send { to: ServerId(2), n }] if n.election_epoch == 2
        && n.vote.leader == ServerId(1))
    );
    assert_eq!(e.proposal().unwrap().leader, ServerId(1), "old-round votes are not adopted");
}

/// Resends back off exponentially up to the maximum.
#[test]
fn resends_back_off() {
    let view = QuorumView::new([ServerId(1), ServerId(2), ServerId(3)], []);
    let mut e = Election::new(ServerId(1), view, TIMING);
    e.start(Zxid(1), 1);
    let mut sent_at = Vec::new();
    for t in 1..=40 {
        if !e.on_tick().is_empty() {
            sent_at.push(t);
        }
    }
    assert_eq!(sent_at, [2, 6, 14, 30]);
}

proptest! {
    /// Whatever the delivery order and histories, with every voter up all voters decide the
    /// same leader, and it is the best vote among them.
    #[test]
    fn any_delivery_order_converges_on_the_best_vote(
        seed in any::<u64>(),
        zxids in proptest::collection::vec((0u64..4, 1u32..3), 5),
    ) {
        let mut net = Net::new(&[1, 2, 3, 4, 5], &[], seed);
        for (i, (zxid, epoch)) in zxids.iter().enumerate() {
            net.start(i as u64 + 1, *zxid, *epoch);
        }
        net.run(6);
        let best = zxids
            .iter()
            .enumerate()
            .map(|(i, (z, e))| Vote { leader: ServerId(i as u64 + 1), zxid: Zxid(*z), peer_epoch: *e })
            .max()
            .unwrap();
        prop_assert_eq!(net.decided.len(), 5);
        for (vote, _, _) in net.decided.values() {
            prop_assert_eq!(vote.leader, best.leader);
        }
    }
}

/// Two survivors of a dead leader decide without waiting out the finalize window once each
/// has the other's matching vote and knows the leader's link is down; the best of the two
/// still wins. Without the link-down fact, the same votes wait for the window.
#[test]
fn survivors_decide_at_once_when_every_reachable_voter_agrees() {
    let slow = Timing { finalize_wait_ticks: 100, ..TIMING };
    let view = QuorumView::new([ServerId(1), ServerId(2), ServerId(3)], []);
    for leader_down in [true, false] {
        let mut e1 = Election::new(ServerId(1), view.clone(), slow);
        let mut e2 = Election::new(ServerId(2), view.clone(), slow);
        if leader_down {
            e1.peer_down(ServerId(3));
            e2.peer_down(ServerId(3));
        }
        let mut out1 = e1.start(Zxid(7), 1);
        let mut out2 = e2.start(Zxid(5), 1);
        let mut decided = BTreeMap::new();
        // Deliver 1 <-> 2 until quiet, no ticks.
        for _ in 0..8 {
            let (to2, to1): (Vec<_>, Vec<_>) =
                (std::mem::take(&mut out1), std::mem::take(&mut out2));
            for o in to2 {
                match o {
                    ElectionOutput::Send { to: ServerId(2), n } => {
                        out2.extend(e2.on_notification(ServerId(1), n))
                    }
                    ElectionOutput::Decided { vote, state } => {
                        decided.insert(1, (vote.leader, state));
                    }
                    _ => {}
                }
            }
            for o in to1 {
                match o {
                    ElectionOutput::Send { to: ServerId(1), n } => {
                        out1.extend(e1.on_notification(ServerId(2), n))
                    }
                    ElectionOutput::Decided { vote, state } => {
                        decided.insert(2, (vote.leader, state));
                    }
                    _ => {}
                }
            }
        }
        if leader_down {
            assert_eq!(decided.get(&1), Some(&(ServerId(1), PeerState::Leading)));
            assert_eq!(decided.get(&2), Some(&(ServerId(1), PeerState::Following)));
        } else {
            assert!(decided.is_empty(), "server 3 may still send a better vote: {decided:?}");
            assert!(e1.is_looking() && e2.is_looking());
        }
    }
}

/// A server heard from again counts as reachable: its vote is waited for again. A link
/// that breaks during the round does not end the wait, and a leader whose link broke
/// before the round is never chosen early.
#[test]
fn a_member_heard_again_is_waited_for_and_a_dead_leader_is_not_chosen_early() {
    let slow = Timing { finalize_wait_ticks: 100, ..TIMING };
    let view = QuorumView::new([ServerId(1), ServerId(2), ServerId(3)], []);
    let decided =
        |out: &[ElectionOutput]| out.iter().any(|o| matches!(o, ElectionOutput::Decided { .. }));
    let mut e = Election::new(ServerId(1), view.clone(), slow);
    e.peer_down(ServerId(3));
    e.start(Zxid(1), 1);
    // Server 3 is heard from (in an older round): it is reachable again.
    let old = Notification {
        state: PeerState::Looking,
        vote: Vote { leader: ServerId(3), zxid: Zxid(0), peer_epoch: 1 },
        election_epoch: 0,
        config: SenderConfig::default(),
    };
    e.on_notification(ServerId(3), old);
    let agree = Notification {
        state: PeerState::Looking,
        vote: Vote { leader: ServerId(1), zxid: Zxid(1), peer_epoch: 1 },
        election_epoch: 1,
        config: SenderConfig::default(),
    };
    assert!(!decided(&e.on_notification(ServerId(2), agree.clone())));
    // Its link breaks again during the round: still waited for, until the window ends.
    e.peer_down(ServerId(3));
    for _ in 0..99 {
        assert!(!decided(&e.on_tick()));
    }
    let out = e.on_tick();
    assert!(out.contains(&ElectionOutput::Decided { vote: agree.vote, state: PeerState::Leading }));

    // 3's link broke before the round; 2 proposes 3 (the best history): a quorum, all
    // reachable voters agree, but its leader is excluded, so 1 waits the window.
    let mut e = Election::new(ServerId(1), view, slow);
    e.peer_down(ServerId(3));
    e.start(Zxid(1), 1);
    let best = Vote { leader: ServerId(3), zxid: Zxid(9), peer_epoch: 1 };
    let n = Notification {
        state: PeerState::Looking,
        vote: best,
        election_epoch: 1,
        config: SenderConfig::default(),
    };
    assert!(!decided(&e.on_notification(ServerId(2), n)));
    assert!(e.is_looking());
}

/// A leader outside this server's configuration is followed on the word of a quorum of its
/// followers only if their vote is not older than the configuration (a leader a newer
/// reconfig added); a vote from before it names a leader that reconfig removed, which the
/// voters still following it cannot vouch for (seeds 1867 and 10792 of the random swarm).
#[test]
fn a_removed_leader_is_not_followed_on_stale_votes() {
    let settled = |leader: u64, peer_epoch: u32| Notification {
        state: PeerState::Following,
        vote: Vote { leader: ServerId(leader), zxid: Zxid::new(1, 7), peer_epoch },
        election_epoch: 2,
        config: SenderConfig::default(),
    };
    let decided = |config_epoch: u32, peer_epoch: u32| {
        // Voters {1, 2, 3, 4}: node 5 led epoch 2 and was removed by a reconfig of epoch 2.
        let view = QuorumView::new([1, 2, 3, 4].map(ServerId), []);
        let mut e = Election::new(ServerId(1), view, TIMING);
        e.set_config_epoch(config_epoch);
        let mut out = e.start(Zxid::new(2, 9), 2);
        for from in [2, 3, 4] {
            out.extend(e.on_notification(ServerId(from), settled(5, peer_epoch)));
        }
        out.into_iter().find_map(|o| match o {
            ElectionOutput::Decided { vote, .. } => Some(vote.leader),
            ElectionOutput::Send { .. } => None,
        })
    };
    assert_eq!(decided(2, 1), None, "votes from epoch 1 predate the configuration of epoch 2");
    assert_eq!(decided(2, 2), Some(ServerId(5)), "a leader a newer configuration added");
    assert_eq!(decided(0, 1), Some(ServerId(5)), "zoo.cfg's configuration: no epoch to compare");
}
