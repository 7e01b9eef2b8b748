//! A replicated node's roles: LOOKING (fast leader election), LEADING and FOLLOWING or
//! OBSERVING, and the moves between them.
//!
//! The role decides who may touch the tree: a leader applies each proposal as it makes it
//! (so the next request validates against it, as ZooKeeper's outstanding-changes list
//! allows) but holds every client-visible output until the proposal commits; a learner
//! applies transactions when they commit. Whenever a node leaves an active role it closes
//! every client connection, drops the outputs it was holding (they may depend on
//! proposals that will never commit), and applies what it logged but had not applied, so
//! that a LOOKING node's tree always equals its log. Invariant: a client only ever sees
//! state that a quorum has logged.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::leader::Leader;
use super::learner::Learner;
use super::{Node, Phase};
use crate::config::Ensemble;
use crate::election::{settled_reply, Election, ElectionOutput, PeerState, QuorumView, Vote};
use crate::ids::{ServerId, Zxid};
use crate::output::{Mode, Output, ProtocolEvent};
use crate::peer::PeerMsg;
use crate::txn::TxnRecord;

/// How many committed transactions a node keeps in memory to DIFF a learner from
/// (ZooKeeper's `commitLogCount`).
pub(super) const WINDOW: usize = 500;

/// A node's role in its ensemble.
pub(super) enum Role {
    Looking,
    Leading(Box<Leader>),
    Learning(Box<Learner>),
}

/// Everything a replicated node keeps beyond a standalone one.
pub(super) struct Quorum {
    pub(super) ens: Ensemble,
    pub(super) view: QuorumView,
    pub(super) election: Election,
    pub(super) accepted_epoch: u32,
    pub(super) current_epoch: u32,
    pub(super) role: Role,
    /// The vote this node settled on in its last election.
    pub(super) vote: Option<Vote>,
    /// The last logged zxid (a learner logs proposals before it applies them).
    pub(super) last_logged: Zxid,
    /// The newest logged transactions, oldest first, for DIFF.
    pub(super) window: VecDeque<TxnRecord>,
    /// The zxid the window starts after.
    pub(super) window_start: Zxid,
    /// LEARNERINFOs that arrived while this node was still LOOKING, by sender: a learner
    /// may settle on this node and send it before this node's own election ends (real
    /// servers' ticks are not aligned). Replayed if this node then leads; dropped when the
    /// sender's connection breaks or a new LOOKING period starts.
    pub(super) early_learners: BTreeMap<ServerId, PeerMsg>,
    /// A reconfig this node proposed (leader) that has not committed: its zxid and the
    /// configuration it installs.
    pub(super) pending: Option<(Zxid, Ensemble)>,
    /// Read-only mode (see `read_only.rs`).
    pub(super) ro: super::read_only::ReadOnly,
}

impl Quorum {
    pub(super) fn new(ens: Ensemble, me: ServerId, accepted: u32, current: u32) -> Quorum {
        let view = ens.view();
        let mut election = Election::new(me, view.clone(), ens.election);
        election.set_config(super::reconfig::sender_config(&ens));
        Quorum {
            ens,
            view,
            election,
            accepted_epoch: accepted,
            current_epoch: current,
            role: Role::Looking,
            vote: None,
            last_logged: Zxid::ZERO,
            window: VecDeque::new(),
            window_start: Zxid::ZERO,
            early_learners: BTreeMap::new(),
            pending: None,
            ro: Default::default(),
        }
    }

    /// Records a logged transaction in the window, dropping committed ones beyond its size.
    pub(super) fn remember(&mut self, rec: &TxnRecord, committed: Zxid) {
        self.last_logged = self.last_logged.max(rec.header.zxid);
        self.window.push_back(rec.clone());
        while self.window.len() > WINDOW
            && self.window.front().is_some_and(|r| r.header.zxid <= committed)
        {
            let dropped = self.window.pop_front().expect("non-empty");
            self.window_start = dropped.header.zxid;
        }
    }

    /// The logged record with this zxid, if the window still has it.
    pub(super) fn record(&self, zxid: Zxid) -> Option<&TxnRecord> {
        let i = self.window.partition_point(|r| r.header.zxid < zxid);
        self.window.get(i).filter(|r| r.header.zxid == zxid)
    }

    fn state(&self) -> PeerState {
        match &self.role {
            Role::Looking => PeerState::Looking,
            Role::Leading(_) => PeerState::Leading,
            Role::Learning(l) if l.observer => PeerState::Observing,
            Role::Learning(_) => PeerState::Following,
        }
    }
}

impl Node {
    pub(super) fn q(&self) -> &Quorum {
        self.quorum.as_ref().expect("replicated node")
    }
    pub(super) fn qm(&mut self) -> &mut Quorum {
        self.quorum.as_mut().expect("replicated node")
    }

    /// True when the node serves clients: standalone, an established leader, or a learner
    /// that has received UPTODATE.
    pub(super) fn serving(&self) -> bool {
        match &self.quorum {
            None => true,
            Some(q) => match &q.role {
                Role::Looking => false,
                Role::Leading(l) => l.established,
                Role::Learning(l) => l.up_to_date,
            },
        }
    }

    /// True when this node is an established leader (or standalone): it makes transactions.
    pub(super) fn makes_txns(&self) -> bool {
        match &self.quorum {
            None => true,
            Some(q) => matches!(&q.role, Role::Leading(l) if l.established),
        }
    }

    pub(super) fn send(&mut self, to: ServerId, msg: PeerMsg) {
        self.ready.push_back(Output::Send { to, msg });
    }

    pub(super) fn event(&mut self, e: ProtocolEvent) {
        self.ready.push_back(Output::Event(e));
    }

    pub(super) fn set_mode(&mut self, mode: Mode) {
        if self.mode != mode {
            self.mode = mode;
            self.ready.push_back(Output::Role(mode));
        }
    }

    /// Starts an election round (at start-up and whenever a role ends).
    pub(super) fn start_looking(&mut self) {
        self.abandon_snapshot();
        let last = self.q().last_logged;
        let q = self.qm();
        q.role = Role::Looking;
        q.vote = None;
        q.early_learners.clear();
        let outs = self.election_round();
        self.event(ProtocolEvent::Looking { last_zxid: last });
        self.set_mode(Mode::Looking);
        self.read_only_arm();
        self.election_outputs(outs);
    }

    /// A LOOKING node's configuration changed: a new round in it, the node staying LOOKING.
    pub(super) fn restart_election(&mut self) {
        self.qm().election.stop();
        let outs = self.election_round();
        self.election_outputs(outs);
    }

    /// Starts the election's next round with this node's history.
    fn election_round(&mut self) -> Vec<ElectionOutput> {
        let (last, epoch) = (self.q().last_logged, self.q().current_epoch);
        // Planted bug `vote-ignores-zxid`: every vote claims zxid 0.
        let claim = if self.config.planted.votes_ignore_zxid() { Zxid::ZERO } else { last };
        self.qm().election.start(claim, epoch)
    }

    /// Leaves the current role for LOOKING: see the module documentation.
    pub(super) fn go_looking(&mut self) {
        if matches!(self.q().role, Role::Looking) {
            return;
        }
        self.drop_clients();
        // A learner's logged-but-uncommitted proposals join its tree, so tree == log.
        let pending: Vec<TxnRecord> = match &mut self.qm().role {
            Role::Learning(l) => l.pending.drain(..).collect(),
            _ => Vec::new(),
        };
        for rec in pending {
            self.apply_txn(&rec, false);
        }
        self.committed = self.committed.max(self.last_zxid);
        // tree == log now: its newest configuration is the one to elect in.
        self.qm().pending = None;
        self.qm().role = Role::Looking;
        // Only a newer one: a configuration adopted from a vote may not be logged yet.
        self.adopt_newer_config_from_tree();
        self.start_looking();
    }

    /// Closes every client connection at once, dropping held outputs and local waits.
    pub(super) fn drop_clients(&mut self) {
        self.clear_held();
        let conns: Vec<_> = self.conns.keys().copied().collect();
        for conn in conns {
            if let Some(c) = self.conns.get_mut(&conn) {
                if c.phase != Phase::Closing {
                    c.phase = Phase::Closing;
                    self.ready.push_back(Output::Close { conn });
                }
            }
            self.watches.remove_conn(conn);
        }
        for s in self.sessions.iter_mut_all() {
            s.conn = None;
        }
    }

    /// A replicated node's tick: election resends, leader heartbeats, learner timeouts.
    pub(super) fn quorum_tick(&mut self) {
        match &mut self.qm().role {
            Role::Looking => {
                let outs = self.qm().election.on_tick();
                self.election_outputs(outs);
                self.read_only_tick();
            }
            Role::Leading(_) => self.leader_tick(),
            Role::Learning(_) => self.learner_tick(),
        }
    }

    pub(super) fn on_peer(&mut self, from: ServerId, msg: PeerMsg) {
        if self.quorum.is_none() {
            return;
        }
        if let PeerMsg::Vote(n) = msg {
            if matches!(self.q().role, Role::Looking) {
                self.adopt_config_from_vote(&n.config);
                let outs = self.qm().election.on_notification(from, n);
                self.election_outputs(outs);
            } else if n.state == PeerState::Looking {
                let q = self.q();
                if let Some(vote) = q.vote {
                    let config = q.election.config().clone();
                    let reply = settled_reply(vote, q.election.logical_clock(), q.state(), config);
                    self.send(from, PeerMsg::Vote(reply));
                }
            }
            return;
        }
        match self.q().role {
            Role::Leading(_) => self.leader_on_peer(from, msg),
            Role::Learning(_) => self.learner_on_peer(from, msg),
            Role::Looking => {
                // Zab traffic from a previous role's connection, or a learner that settled
                // on this node before this node's election ended (kept for start_leading).
                if let PeerMsg::LearnerInfo { .. } = msg {
                    self.qm().early_learners.insert(from, msg);
                }
            }
        }
    }

    pub(super) fn on_peer_down(&mut self, id: ServerId) {
        if self.quorum.is_none() {
            return;
        }
        self.qm().early_learners.remove(&id);
        // The next round does not wait for a vote from `id` (until it hears from it).
        self.qm().election.peer_down(id);
        match &mut self.qm().role {
            Role::Leading(l) => {
                l.learners.remove(&id);
                // With the connection gone the quorum may be too: an established leader
                // checks at once rather than at its next tick (ZooKeeper checks every half
                // tick), so a cut-off node reaches read-only mode sooner.
                let me = self.config.server_id;
                let l = match &self.q().role {
                    Role::Leading(l) if l.established => l,
                    _ => return,
                };
                let active = l.active_followers();
                if !is_quorum_with(&self.q().view, me, true, active) {
                    self.go_looking();
                }
            }
            Role::Learning(l) if l.leader == id => self.go_looking(),
            _ => {}
        }
    }

    fn election_outputs(&mut self, outs: Vec<ElectionOutput>) {
        for o in outs {
            match o {
                ElectionOutput::Send { to, n } => self.send(to, PeerMsg::Vote(n)),
                ElectionOutput::Decided { vote, state } => {
                    self.read_only_leave();
                    self.qm().vote = Some(vote);
                    if state != PeerState::Leading {
                        // Kept only for a node that comes to lead (start_leading replays them).
                        self.qm().early_learners.clear();
                    }
                    match state {
                        PeerState::Leading => self.start_leading(),
                        PeerState::Following => self.start_learning(vote.leader, false),
                        PeerState::Observing => self.start_learning(vote.leader, true),
                        PeerState::Looking => {}
                    }
                }
            }
        }
    }

    /// Applies one transaction to the tree and the session table; fires watches when asked
    /// (not while the node is not serving). Returns what the tree said.
    pub(super) fn apply_txn(&mut self, rec: &TxnRecord, fire: bool) -> crate::tree::TxnResult {
        use crate::txn::Txn;
        // Its log record went out no later than the newest append.
        self.note_applied(rec, self.last_append_seq);
        let acls_before = crate::watch::AclsBefore::read(&self.tree, &rec.txn, rec.header.session);
        let applied = self.tree.apply(rec);
        self.last_zxid = rec.header.zxid;
        match &rec.txn {
            Txn::CreateSession { timeout_ms } => {
                let deadline = self.deadline_for(*timeout_ms);
                self.sessions.add(rec.header.session, *timeout_ms, deadline);
            }
            Txn::CloseSession => {
                if let Some(s) = self.sessions.remove(rec.header.session) {
                    if let Some(conn) = s.conn.filter(|_| fire) {
                        self.close_conn(conn);
                    }
                }
            }
            _ => {}
        }
        self.event(ProtocolEvent::Applied { zxid: rec.header.zxid, digest: self.tree.digest() });
        if fire {
            self.fire_watches(&applied.changes, &acls_before, rec.header.zxid);
        }
        applied.result
    }
}

/// The voters among `ids`, plus `me` when `me_counts`, form a quorum of `view`.
pub(super) fn is_quorum_with(
    view: &QuorumView,
    me: ServerId,
    me_counts: bool,
    ids: impl IntoIterator<Item = ServerId>,
) -> bool {
    let mut set: BTreeSet<ServerId> = ids.into_iter().collect();
    if me_counts {
        set.insert(me);
    }
    view.is_quorum(set.iter())
}

/// A map's keys for which `pred` holds, in order.
pub(super) fn keys_where<V>(
    map: &BTreeMap<ServerId, V>,
    pred: impl Fn(&V) -> bool,
) -> Vec<ServerId> {
    map.iter().filter(|(_, v)| pred(v)).map(|(k, _)| *k).collect()
}
