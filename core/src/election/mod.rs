//! Fast leader election (ZooKeeper's `FastLeaderElection.lookForLeader`), as a pure state
//! machine driven by notifications and ticks.
//!
//! A LOOKING server proposes itself, broadcasts its vote to the voters, adopts any better
//! vote it hears in the same round (logical clock), and decides once a quorum of the
//! round's votes equals its proposal and no better vote arrives within `finalize_wait`.
//! Votes from servers already FOLLOWING or LEADING let a late joiner settle on an
//! established leader, comparing only (leader, epoch) as ZOOKEEPER-1732 fixed. Observers
//! run the same machine but are never counted and never elected. Resends back off from
//! `resend_min_ticks` to `resend_max_ticks`.
//!
//! The finalize wait is skipped once every voter that can still be heard from proposes the
//! same vote in this round: a better vote could then only come from a server this one
//! cannot reach, which the wait would not hear either. That is the rule older ZooKeeper
//! releases had ("received from all voters"), narrowed to the reachable ones. A voter counts
//! as unreachable only when its peer link went down after this server's last decision and
//! before this round started, and it has sent nothing since (the dead leader, in a
//! failover); a link that drops during the round (connections are replaced while links are
//! set up) is not trusted. The rule changes only when a decision is made, never which vote
//! can win: the same quorum of this round's votes must back it.
//!
//! Invariant: a decision is only ever for a vote that a quorum of voters holds in this
//! round, and for an established leader only when that leader itself is heard to be
//! LEADING.

pub mod quorum;
pub mod vote;

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{ServerId, Zxid};
pub use quorum::QuorumView;
pub use vote::{Notification, PeerState, SenderConfig, Vote};

/// Election timing, in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How long a quorum-backed proposal waits for a better vote before deciding
    /// (`finalizeWait`). 0 decides at once.
    pub finalize_wait_ticks: u64,
    /// First resend interval for notifications (`minNotificationInterval`).
    pub resend_min_ticks: u64,
    /// Largest resend interval (`maxNotificationInterval`).
    pub resend_max_ticks: u64,
}

/// What the election asks its node to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElectionOutput {
    /// Send a notification to one server.
    Send { to: ServerId, n: Notification },
    /// The election is over: lead, follow or observe `vote.leader`.
    Decided { vote: Vote, state: PeerState },
}

/// A vote as recorded from one sender.
#[derive(Clone, Copy, Debug)]
struct Heard {
    vote: Vote,
    election_epoch: u64,
    state: PeerState,
}

/// One server's election. Create it once; call `start` each time the server goes LOOKING.
#[derive(Clone, Debug)]
pub struct Election {
    me: ServerId,
    view: QuorumView,
    timing: Timing,
    logical_clock: u64,
    /// This server's own candidacy; `None` for observers.
    own: Option<Vote>,
    /// The vote this server currently proposes; `None` until an observer hears one.
    proposal: Option<Vote>,
    /// LOOKING votes of this round, by sender (ZooKeeper's `recvset`).
    received: BTreeMap<ServerId, Heard>,
    /// Votes of settled servers (`outofelection`).
    settled: BTreeMap<ServerId, Heard>,
    finalize_at: Option<u64>,
    /// Members whose peer link went down since the last decision and that have sent
    /// nothing since.
    unreachable: BTreeSet<ServerId>,
    /// `unreachable` as it was when this round started, less those heard from since: the
    /// voters this round does not wait for.
    excluded: BTreeSet<ServerId>,
    now: u64,
    resend_at: u64,
    resend_interval: u64,
    looking: bool,
    /// The epoch of the transaction that made `view` (0 for zoo.cfg's): a leader outside
    /// `view` is followed on its followers' word only if their vote is from this epoch or
    /// later (see `leader_confirmed`).
    config_epoch: u32,
    /// The configuration every notification this server sends carries.
    config: SenderConfig,
}

impl Election {
    /// An idle election for server `me` in configuration `view`.
    pub fn new(me: ServerId, view: QuorumView, timing: Timing) -> Election {
        assert!(timing.resend_min_ticks >= 1 && timing.resend_min_ticks <= timing.resend_max_ticks);
        Election {
            me,
            view,
            timing,
            logical_clock: 0,
            own: None,
            proposal: None,
            received: BTreeMap::new(),
            settled: BTreeMap::new(),
            finalize_at: None,
            unreachable: BTreeSet::new(),
            excluded: BTreeSet::new(),
            now: 0,
            resend_at: 0,
            resend_interval: timing.resend_min_ticks,
            looking: false,
            config_epoch: 0,
            config: SenderConfig::default(),
        }
    }

    /// The logical clock (election epoch) of the current or last round.
    pub fn logical_clock(&self) -> u64 {
        self.logical_clock
    }
    /// The vote currently proposed, if any.
    pub fn proposal(&self) -> Option<Vote> {
        self.proposal
    }
    /// Replaces the configuration (a reconfig committed); the logical clock carries on.
    pub fn set_view(&mut self, view: QuorumView) {
        self.view = view;
    }
    /// The epoch of the reconfig transaction that made the current view.
    pub fn set_config_epoch(&mut self, epoch: u32) {
        self.config_epoch = epoch;
    }
    /// Sets the configuration this server's notifications carry (see [`SenderConfig`]).
    pub fn set_config(&mut self, config: SenderConfig) {
        self.config = config;
    }
    /// The configuration this server's notifications carry.
    pub fn config(&self) -> &SenderConfig {
        &self.config
    }
    /// True while the election runs.
    pub fn is_looking(&self) -> bool {
        self.looking
    }

    /// Starts a new round with this server's last logged zxid and currentEpoch.
    pub fn start(&mut self, last_zxid: Zxid, current_epoch: u32) -> Vec<ElectionOutput> {
        self.looking = true;
        self.logical_clock += 1;
        self.received.clear();
        self.settled.clear();
        self.finalize_at = None;
        self.excluded = self.unreachable.clone();
        self.own = self.view.is_voter(self.me).then_some(Vote {
            leader: self.me,
            zxid: last_zxid,
            peer_epoch: current_epoch,
        });
        self.proposal = self.own;
        self.resend_interval = self.timing.resend_min_ticks;
        let mut out = Vec::new();
        self.broadcast(&mut out);
        self.try_decide(&mut out);
        out
    }

    /// Handles a notification from `from` while LOOKING. (A settled server answers with
    /// [`settled_reply`] instead.)
    pub fn on_notification(&mut self, from: ServerId, n: Notification) -> Vec<ElectionOutput> {
        let mut out = Vec::new();
        if from == self.me {
            return out;
        }
        self.unreachable.remove(&from);
        self.excluded.remove(&from);
        if !self.looking {
            return out;
        }
        if !self.view.is_voter(from) {
            match n.state {
                // An observer asking: tell it what we think (FastLeaderElection's
                // WorkerReceiver). A server outside our configuration (one a reconfig added
                // or removed that we do not know as such) gets no answer, nor does one in a
                // newer round than ours: servers whose configurations disagree about who
                // votes would otherwise answer each other forever. Both learn the leader
                // from settled replies once the voters have decided.
                PeerState::Looking
                    if n.election_epoch <= self.logical_clock
                        && self.view.members().any(|m| m == from) =>
                {
                    self.answer(from, &mut out)
                }
                // A settled server outside our configuration may be the leader a quorum of
                // ours follows (it was added by a reconfig we have not seen): remember it.
                PeerState::Leading | PeerState::Following => {
                    self.on_settled_vote(from, n, &mut out)
                }
                _ => {}
            }
            return out;
        }
        // Only voters are elected, but a quorum of ours may follow a leader a newer
        // configuration added; syncing with it brings that configuration.
        if !self.view.is_voter(n.vote.leader) && n.state == PeerState::Looking {
            return out;
        }
        match n.state {
            PeerState::Looking => self.on_looking_vote(from, n, &mut out),
            PeerState::Following | PeerState::Leading => self.on_settled_vote(from, n, &mut out),
            // Only a server a reconfig removed observes while our configuration still
            // counts it as a voter: it follows that leader all the same.
            PeerState::Observing => self.on_settled_vote(from, n, &mut out),
        }
        out
    }

    /// Advances time by one tick: decide after a quiet finalize wait, resend with backoff.
    pub fn on_tick(&mut self) -> Vec<ElectionOutput> {
        let mut out = Vec::new();
        if !self.looking {
            return out;
        }
        self.now += 1;
        if self.finalize_at.is_some_and(|at| self.now >= at) {
            self.decide_if_backed(&mut out);
            if !self.looking {
                return out;
            }
        }
        if self.now >= self.resend_at {
            self.resend_interval = (self.resend_interval * 2).min(self.timing.resend_max_ticks);
            self.broadcast(&mut out);
        }
        out
    }

    /// The peer link to `id` went down: until `id` is heard from again, the next round does
    /// not wait for its vote (see the module documentation). The round in progress, if any,
    /// still does.
    pub fn peer_down(&mut self, id: ServerId) {
        if id != self.me {
            self.unreachable.insert(id);
        }
    }

    /// Leaves the election without a decision (the node shut down or was reconfigured).
    pub fn stop(&mut self) {
        self.looking = false;
        self.finalize_at = None;
    }

    fn on_looking_vote(&mut self, from: ServerId, n: Notification, out: &mut Vec<ElectionOutput>) {
        if n.election_epoch > self.logical_clock {
            self.logical_clock = n.election_epoch;
            self.received.clear();
            self.finalize_at = None;
            self.proposal = match self.own {
                Some(own) if !n.vote.beats(&own) => Some(own),
                _ => Some(n.vote),
            };
            self.broadcast(out);
        } else if n.election_epoch < self.logical_clock {
            // A straggler from an older round: tell it where we are. A non-voter does not:
            // its notifications are only questions, which the voter would answer back with
            // its older round, forever (found when a reconfig made a participant with a
            // newer round an observer).
            if self.view.is_voter(self.me) {
                self.answer(from, out);
            }
            return;
        } else if self.proposal.is_none_or(|p| n.vote.beats(&p)) {
            self.proposal = Some(n.vote);
            self.finalize_at = None;
            self.broadcast(out);
        }
        self.received
            .insert(from, Heard { vote: n.vote, election_epoch: n.election_epoch, state: n.state });
        self.try_decide(out);
    }

    fn on_settled_vote(&mut self, from: ServerId, n: Notification, out: &mut Vec<ElectionOutput>) {
        let heard = Heard { vote: n.vote, election_epoch: n.election_epoch, state: n.state };
        if n.election_epoch == self.logical_clock {
            self.received.insert(from, heard);
            if self.backs(&self.received, &n.vote, true)
                && self.leader_confirmed(&self.received, &n.vote, n.election_epoch)
            {
                self.decide(n.vote, out);
                return;
            }
        }
        self.settled.insert(from, heard);
        if self.backs(&self.settled, &n.vote, true)
            && self.leader_confirmed(&self.settled, &n.vote, n.election_epoch)
        {
            self.logical_clock = n.election_epoch;
            self.decide(n.vote, out);
        }
    }

    /// True when the votes in `heard` that equal `vote` (plus this server's own, when it
    /// proposes the same) form a quorum. Settled votes compare only leader and epoch.
    fn backs(&self, heard: &BTreeMap<ServerId, Heard>, vote: &Vote, settled: bool) -> bool {
        let same = |v: &Vote| {
            if settled {
                v.leader == vote.leader && v.peer_epoch == vote.peer_epoch
            } else {
                v == vote
            }
        };
        let mut backers: Vec<ServerId> =
            heard.iter().filter(|(_, h)| same(&h.vote)).map(|(id, _)| *id).collect();
        if self.proposal.is_some_and(|p| same(&p)) && self.view.is_voter(self.me) {
            backers.push(self.me);
        }
        self.view.is_quorum(backers.iter())
    }

    /// ZooKeeper's `checkLeader`: we only follow another server once it says it leads; we
    /// only lead in the round we are in.
    fn leader_confirmed(
        &self,
        heard: &BTreeMap<ServerId, Heard>,
        vote: &Vote,
        election_epoch: u64,
    ) -> bool {
        let leader = vote.leader;
        if leader == self.me {
            self.logical_clock == election_epoch
        } else if !self.view.members().any(|m| m == leader) {
            // A leader only a newer configuration has: we cannot ask it, so the quorum of
            // ours that follows it is the confirmation; a dead one fails our sync. Unless
            // the followers' vote predates our configuration: then the leader is one our
            // configuration removed, and the followers are still waiting on it after it
            // stepped down. (A leader a newer configuration added was elected after that
            // configuration reached it, so its vote's epoch is at least ours; a removed
            // leader's vote is from before the epoch it led, at most ours.) Trusting them
            // had every voter follow the removed leader in turn, each vouching for it to
            // the next while its own sync timed out, and no leader was ever elected.
            vote.peer_epoch >= self.config_epoch
        } else {
            heard.get(&leader).is_some_and(|h| h.state == PeerState::Leading)
        }
    }

    fn try_decide(&mut self, out: &mut Vec<ElectionOutput>) {
        let Some(p) = self.proposal else { return };
        let round: BTreeMap<ServerId, Heard> = self
            .received
            .iter()
            .filter(|(_, h)| {
                h.election_epoch == self.logical_clock && h.state == PeerState::Looking
            })
            .map(|(id, h)| (*id, *h))
            .collect();
        if !self.backs(&round, &p, false) {
            return;
        }
        if self.timing.finalize_wait_ticks == 0 || self.all_reachable_agree(&round, &p) {
            self.decide(p, out);
        } else if self.finalize_at.is_none() {
            self.finalize_at = Some(self.now + self.timing.finalize_wait_ticks);
        }
    }

    /// True when every other voter not excluded from this round has a LOOKING vote in it
    /// (`round`) equal to `p`, this server proposes `p` as a voter, and `p`'s leader is not
    /// excluded (that one gets the full wait): no better vote can
    /// reach this server, so waiting out the finalize window only delays the same decision.
    fn all_reachable_agree(&self, round: &BTreeMap<ServerId, Heard>, p: &Vote) -> bool {
        self.own.is_some()
            && self.view.is_voter(self.me)
            && !self.excluded.contains(&p.leader)
            && self
                .view
                .voters()
                .filter(|v| *v != self.me && !self.excluded.contains(v))
                .all(|v| round.get(&v).is_some_and(|h| h.vote == *p))
    }

    fn decide_if_backed(&mut self, out: &mut Vec<ElectionOutput>) {
        self.finalize_at = None;
        let Some(p) = self.proposal else { return };
        let round: BTreeMap<ServerId, Heard> = self
            .received
            .iter()
            .filter(|(_, h)| h.election_epoch == self.logical_clock)
            .map(|(id, h)| (*id, *h))
            .collect();
        if self.backs(&round, &p, false) {
            self.decide(p, out);
        }
    }

    fn decide(&mut self, vote: Vote, out: &mut Vec<ElectionOutput>) {
        assert!(vote.leader != self.me || self.view.is_voter(self.me), "only voters lead");
        let state = if vote.leader == self.me {
            PeerState::Leading
        } else if self.view.is_voter(self.me) {
            PeerState::Following
        } else {
            PeerState::Observing
        };
        self.looking = false;
        self.finalize_at = None;
        self.proposal = Some(vote);
        // Links that broke before this decision say nothing about the next round's peers.
        self.unreachable.clear();
        self.excluded.clear();
        out.push(ElectionOutput::Decided { vote, state });
    }

    /// Sends `to` our current proposal in our current round, if we have one.
    fn answer(&self, to: ServerId, out: &mut Vec<ElectionOutput>) {
        if self.own.is_none() {
            return; // a non-voter's echo of another's vote must never count as a vote
        }
        if let Some(vote) = self.proposal {
            let n = Notification {
                state: PeerState::Looking,
                vote,
                election_epoch: self.logical_clock,
                config: self.config.clone(),
            };
            out.push(ElectionOutput::Send { to, n });
        }
    }

    fn broadcast(&mut self, out: &mut Vec<ElectionOutput>) {
        self.resend_at = self.now + self.resend_interval;
        // A non-voter only ever asks: a server whose configuration still counts it as a
        // voter (one a reconfig changed) would otherwise count its echo of whatever vote it
        // heard last, and two candidates could each collect "quorums" from the same echo.
        let Some(vote) = self.proposal.filter(|_| self.own.is_some()) else {
            // An observer with no vote yet still asks the voters.
            let ask = Notification {
                state: PeerState::Looking,
                vote: Vote { leader: self.me, zxid: Zxid::ZERO, peer_epoch: 0 },
                election_epoch: self.logical_clock,
                config: self.config.clone(),
            };
            for to in self.view.voters().filter(|v| *v != self.me) {
                out.push(ElectionOutput::Send { to, n: ask.clone() });
            }
            return;
        };
        let n = Notification {
            state: PeerState::Looking,
            vote,
            election_epoch: self.logical_clock,
            config: self.config.clone(),
        };
        for to in self.view.voters().filter(|v| *v != self.me) {
            out.push(ElectionOutput::Send { to, n: n.clone() });
        }
    }
}

/// What a FOLLOWING, LEADING or OBSERVING server answers a LOOKING server's notification
/// with: the leader it is settled on, in its last round, with its state and configuration.
pub fn settled_reply(
    current: Vote,
    election_epoch: u64,
    state: PeerState,
    config: SenderConfig,
) -> Notification {
    Notification { state, vote: current, election_epoch, config }
}

#[cfg(test)]
mod tests;
