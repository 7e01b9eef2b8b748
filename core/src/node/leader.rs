//! LEADING: Zab's discovery, synchronisation and broadcast on the leader's side
//! (ZooKeeper's `Leader` and `LearnerHandler`).
//!
//! Discovery: once a quorum (counting the leader) has sent LEARNERINFO, the new epoch is
//! one above every acceptedEpoch heard; it is made durable before LEADERINFO goes out.
//! Once a quorum has answered ACKEPOCH the leader records currentEpoch, and syncs each
//! learner (DIFF from the in-memory window, or SNAP when the learner is too far behind
//! or holds a suffix the leader lacks), ending with NEWLEADER. The leader is established
//! when a quorum, counting its own durable currentEpoch, has acknowledged NEWLEADER; only
//! then does it serve clients and propose. Broadcast: every proposal is logged, applied to
//! the leader's tree and sent to followers; it commits when a quorum (the leader's own
//! fsync counting like any follower's ACK) has logged it; observers get INFORM. A leader
//! that does not hear from a quorum within syncLimit, or is not established within
//! initLimit, steps down. Invariant: COMMITs go out in zxid order and only for proposals
//! a quorum has durably logged.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::quorum::{is_quorum_with, keys_where, Role};
use super::Node;
use crate::acl::AuthContext;
use crate::error::KeeperError;
use crate::ids::{ServerId, SessionId, Zxid};
use crate::output::{DurableWrite, Mode, ProtocolEvent};
use crate::peer::{Forward, PeerMsg};
use crate::proto::Request;
use crate::txn::{Txn, TxnHeader, TxnRecord};
use crate::zab::broadcast::Outstanding;
use crate::zab::sync::{plan, SyncPlan};

/// Where one learner is in its session with the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// LEARNERINFO received; waiting for the epoch to be decided and durable.
    Info,
    /// LEADERINFO sent.
    EpochSent,
    /// ACKEPOCH received with the learner's history.
    AckedEpoch { last_zxid: Zxid },
    /// Sync and NEWLEADER sent; waiting for its ACK.
    NewLeaderSent,
    /// NEWLEADER acknowledged; UPTODATE not yet sent (the leader is not established).
    Synced,
    /// UPTODATE sent: a member of the broadcast.
    Active,
}

/// The leader's view of one learner.
#[derive(Clone, Debug)]
pub(super) struct Link {
    pub(super) observer: bool,
    pub(super) accepted_epoch: u32,
    pub(super) stage: Stage,
    pub(super) last_heard: u64,
}

impl Leader {
    /// Followers (not observers) in the broadcast: synced with this leader.
    pub(super) fn active_followers(&self) -> Vec<ServerId> {
        keys_where(&self.learners, |k| k.stage == Stage::Active && !k.observer)
    }
    /// A reconfig committed: later proposals count acknowledgements in `view`.
    pub(super) fn reconfigured(&mut self, view: &crate::election::QuorumView) {
        if let Some(o) = self.outstanding.as_mut() {
            o.set_view(view.clone());
        }
    }
}

impl Link {
    /// True once the learner receives proposals and commits.
    fn in_broadcast(&self) -> bool {
        matches!(self.stage, Stage::NewLeaderSent | Stage::Synced | Stage::Active)
    }
}

/// LEADING state.
pub(super) struct Leader {
    pub(super) learners: BTreeMap<ServerId, Link>,
    /// The epoch this leader leads, once decided.
    epoch: Option<u32>,
    /// Persist seq of acceptedEpoch (LEADERINFO waits for it).
    epoch_seq: u64,
    epoch_durable: bool,
    /// Persist seq of currentEpoch: the leader's own NEWLEADER acknowledgement.
    current_seq: Option<u64>,
    pub(super) established: bool,
    outstanding: Option<Outstanding>,
    /// (seq, zxid) of proposals whose own fsync has not been counted yet.
    own_unacked: std::collections::VecDeque<(u64, Zxid)>,
    /// `sync`s waiting for everything proposed before them to commit.
    syncs: Vec<(ServerId, SessionId, i32, Zxid)>,
    started: u64,
    /// The leader's currentEpoch and history before this epoch (ACKEPOCH comparisons).
    prior: (u32, Zxid),
}

impl Leader {
    /// Client `sync`s waiting for the proposals before them (mntr's `zk_pending_syncs`).
    pub(super) fn pending_syncs(&self) -> usize {
        self.syncs.len()
    }
}

impl Node {
    pub(super) fn start_leading(&mut self) {
        let prior = (self.q().current_epoch, self.q().last_logged);
        let leader = Leader {
            learners: BTreeMap::new(),
            epoch: None,
            epoch_seq: 0,
            epoch_durable: false,
            current_seq: None,
            established: false,
            outstanding: None,
            own_unacked: Default::default(),
            syncs: Vec::new(),
            started: self.now_tick,
            prior,
        };
        self.qm().role = Role::Leading(Box::new(leader));
        let early = std::mem::take(&mut self.qm().early_learners);
        for (from, msg) in early {
            self.leader_on_peer(from, msg);
        }
        self.try_decide_epoch();
    }

    fn leader(&mut self) -> &mut Leader {
        match &mut self.qm().role {
            Role::Leading(l) => l,
            _ => unreachable!("leader state used while not leading"),
        }
    }
    fn leader_ref(&self) -> &Leader {
        match &self.q().role {
            Role::Leading(l) => l,
            _ => unreachable!("leader state used while not leading"),
        }
    }

    pub(super) fn leader_on_peer(&mut self, from: ServerId, msg: PeerMsg) {
        let now = self.now_tick;
        if let Some(link) = self.leader().learners.get_mut(&from) {
            link.last_heard = now;
        }
        match msg {
            PeerMsg::LearnerInfo { accepted_epoch, observer, .. } => {
                let link = Link { observer, accepted_epoch, stage: Stage::Info, last_heard: now };
                self.leader().learners.insert(from, link);
                if self.leader_ref().epoch_durable {
                    self.send_leader_info(from);
                } else {
                    self.try_decide_epoch();
                }
            }
            PeerMsg::AckEpoch { current_epoch, last_zxid } => {
                let Some(link) = self.leader().learners.get_mut(&from) else { return };
                if link.stage != Stage::EpochSent {
                    return;
                }
                link.stage = Stage::AckedEpoch { last_zxid };
                let prior = self.leader_ref().prior;
                let trusting = self.config.planted.votes_ignore_zxid(); // a planted bug
                if (current_epoch, last_zxid) > prior
                    && self.leader_ref().current_seq.is_none()
                    && !trusting
                {
                    // A learner has newer history than the leader: this election was wrong.
                    self.go_looking();
                    return;
                }
                self.after_epoch_acks();
            }
            PeerMsg::Ack { zxid } => self.on_learner_ack(from, zxid),
            PeerMsg::Pong { touched } => {
                for id in touched {
                    if let Some(s) = self.sessions.get(id) {
                        let deadline = self.deadline_for(s.timeout_ms);
                        self.sessions.touch(id, deadline);
                    }
                }
            }
            PeerMsg::Forward(f) => {
                let active =
                    self.leader_ref().learners.get(&from).is_some_and(|l| l.stage == Stage::Active);
                if active && self.leader_ref().established {
                    self.on_forward(from, f);
                }
            }
            _ => {} // leader-to-learner packets are not for us
        }
    }

    fn try_decide_epoch(&mut self) {
        let me = self.config.server_id;
        let my_accepted = self.q().accepted_epoch;
        let l = self.leader_ref();
        if l.epoch.is_some() {
            return;
        }
        let infos = keys_where(&l.learners, |_| true);
        if !is_quorum_with(&self.q().view, me, true, infos) {
            return;
        }
        let max = l.learners.values().map(|k| k.accepted_epoch).max().unwrap_or(0);
        let epoch = max.max(my_accepted) + 1;
        self.qm().accepted_epoch = epoch;
        let seq = self.persist_other(DurableWrite::AcceptedEpoch(epoch));
        let l = self.leader();
        l.epoch = Some(epoch);
        l.epoch_seq = seq;
    }

    fn send_leader_info(&mut self, to: ServerId) {
        let epoch = self.leader_ref().epoch.expect("decided");
        if let Some(link) = self.leader().learners.get_mut(&to) {
            link.stage = Stage::EpochSent;
        }
        self.send(to, PeerMsg::LeaderInfo { epoch });
    }

    /// After ACKEPOCHs: record currentEpoch once a quorum has acknowledged, then sync.
    fn after_epoch_acks(&mut self) {
        let me = self.config.server_id;
        if self.leader_ref().current_seq.is_none() {
            let acked = keys_where(&self.leader_ref().learners, |k| {
                !matches!(k.stage, Stage::Info | Stage::EpochSent)
            });
            if !is_quorum_with(&self.q().view, me, true, acked) {
                return;
            }
            let epoch = self.leader_ref().epoch.expect("decided");
            self.qm().current_epoch = epoch;
            let seq = self.persist_other(DurableWrite::CurrentEpoch(epoch));
            self.leader().current_seq = Some(seq);
        }
        let ready = keys_where(&self.leader_ref().learners, |k| {
            matches!(k.stage, Stage::AckedEpoch { .. })
        });
        for id in ready {
            self.sync_learner(id);
        }
    }

    /// Sends a learner what it lacks (DIFF or SNAP), then NEWLEADER.
    fn sync_learner(&mut self, id: ServerId) {
        let Some(Stage::AckedEpoch { last_zxid }) =
            self.leader_ref().learners.get(&id).map(|l| l.stage)
        else {
            return;
        };
        let epoch = self.leader_ref().epoch.expect("decided");
        let q = self.q();
        let zxids: Vec<Zxid> = q.window.iter().map(|r| r.header.zxid).collect();
        let planned = match plan(last_zxid, q.window_start, &zxids) {
            // Planted bug `skip-truncate`: DIFF across the learner's divergent suffix.
            SyncPlan::TruncThenDiff { to } if self.config.planted.skips_truncate() => {
                SyncPlan::Diff { after: to }
            }
            p => p,
        };
        match planned {
            SyncPlan::Diff { after } => {
                let recs: Vec<TxnRecord> =
                    q.window.iter().filter(|r| r.header.zxid > after).cloned().collect();
                self.send(id, PeerMsg::Diff { after });
                for r in recs {
                    self.send(id, PeerMsg::Proposal(r));
                }
            }
            // keeper answers TRUNC+DIFF with a SNAP: the learner's divergent suffix goes
            // with its old state (it drops logged records above the snapshot).
            SyncPlan::TruncThenDiff { .. } | SyncPlan::Snap => {
                let image = crate::persist::encode_snapshot(
                    self.last_zxid,
                    &self.sessions.to_snapshot(),
                    &self.tree,
                );
                let zxid = self.last_zxid;
                self.send(id, PeerMsg::Snap { zxid, image: Bytes::from(image) });
            }
        }
        self.send(id, PeerMsg::NewLeader { epoch });
        if let Some(link) = self.leader().learners.get_mut(&id) {
            link.stage = Stage::NewLeaderSent;
        }
    }

    fn on_learner_ack(&mut self, from: ServerId, zxid: Zxid) {
        let Some(stage) = self.leader_ref().learners.get(&from).map(|l| l.stage) else { return };
        match stage {
            Stage::NewLeaderSent => {
                let established = self.leader_ref().established;
                let committed = self.committed;
                let link = self.leader().learners.get_mut(&from).expect("present");
                let observer = link.observer;
                if established {
                    link.stage = Stage::Active;
                    self.send(from, PeerMsg::UpToDate { committed });
                    if !observer {
                        self.count_ack(from, zxid);
                    }
                } else {
                    link.stage = Stage::Synced;
                    self.check_established();
                }
            }
            Stage::Active => {
                let observer = self.leader_ref().learners[&from].observer;
                if !observer {
                    self.count_ack(from, zxid);
                }
            }
            _ => {}
        }
    }

    /// The leader's own durable writes: LEADERINFO after acceptedEpoch, establishment after
    /// currentEpoch, and its own ACK for each proposal.
    pub(super) fn leader_on_persisted(&mut self) {
        let durable = self.durable_seq;
        let l = self.leader_ref();
        if !l.epoch_durable && l.epoch.is_some() && durable >= l.epoch_seq {
            self.leader().epoch_durable = true;
            let waiting = keys_where(&self.leader_ref().learners, |k| k.stage == Stage::Info);
            for id in waiting {
                self.send_leader_info(id);
            }
        }
        if !self.leader_ref().established {
            self.check_established();
            return;
        }
        let mut last = None;
        let l = self.leader();
        while l.own_unacked.front().is_some_and(|(s, _)| *s <= durable) {
            last = l.own_unacked.pop_front().map(|(_, z)| z);
        }
        if let Some(z) = last {
            let me = self.config.server_id;
            if self.config.planted.commits_alone() {
                let done = self.leader().outstanding.as_mut().map(|o| o.commit_through(z));
                if let Some(&last) = done.as_ref().and_then(|d| d.last()) {
                    self.on_committed(&done.clone().unwrap_or_default(), last);
                }
            }
            self.count_ack(me, z);
        }
    }

    fn check_established(&mut self) {
        let me = self.config.server_id;
        let l = self.leader_ref();
        let Some(cur) = l.current_seq else { return };
        let me_counts = self.durable_seq >= cur;
        let synced = keys_where(&l.learners, |k| k.stage == Stage::Synced);
        if !is_quorum_with(&self.q().view, me, me_counts, synced.iter().copied()) {
            return;
        }
        let epoch = l.epoch.expect("decided");
        let last = self.last_zxid;
        self.committed = last;
        let view = self.q().view.clone();
        let l = self.leader();
        l.established = true;
        l.outstanding = Some(Outstanding::new(view, last));
        for id in &synced {
            if let Some(k) = l.learners.get_mut(id) {
                k.stage = Stage::Active;
            }
        }
        for id in synced {
            self.send(id, PeerMsg::UpToDate { committed: last });
        }
        // Sessions get a full timeout under the new leader, as ZooKeeper's do.
        for (id, timeout_ms) in self.sessions.to_snapshot() {
            let deadline = self.deadline_for(timeout_ms);
            self.sessions.touch(id, deadline);
        }
        self.set_mode(Mode::Leader);
        self.event(ProtocolEvent::Established { epoch });
    }

    fn count_ack(&mut self, from: ServerId, zxid: Zxid) {
        let Some(o) = self.leader().outstanding.as_mut() else { return };
        let committed = match o.ack(from, zxid) {
            Ok(c) => c,
            Err(_) => return, // an ack for a zxid this epoch never proposed: ignore it
        };
        if let Some(&last) = committed.last() {
            self.on_committed(&committed, last);
        }
    }

    fn on_committed(&mut self, zxids: &[Zxid], last: Zxid) {
        self.committed = last;
        let l = self.leader_ref();
        let followers = keys_where(&l.learners, |k| k.in_broadcast() && !k.observer);
        let observers = keys_where(&l.learners, |k| k.in_broadcast() && k.observer);
        for id in followers {
            self.send(id, PeerMsg::Commit(last));
        }
        if !observers.is_empty() {
            let recs: Vec<TxnRecord> =
                zxids.iter().filter_map(|z| self.q().record(*z).cloned()).collect();
            for id in observers {
                for r in &recs {
                    self.send(id, PeerMsg::Inform(r.clone()));
                }
            }
        }
        self.event(ProtocolEvent::Committed { zxid: last });
        let committed = self.committed;
        let (done, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.leader().syncs).into_iter().partition(|s| s.3 <= committed);
        self.leader().syncs = waiting;
        for (to, session, cxid, _) in done {
            self.send(to, PeerMsg::Synced { session, cxid });
        }
        self.release_ready();
        // Last: a leader the new configuration removes steps down here, its replies sent.
        self.reconfig_committed(last);
    }

    /// Called from `commit` for every transaction the leader makes: log it as a proposal.
    pub(super) fn leader_proposed(&mut self, rec: &TxnRecord, seq: u64) {
        let zxid = rec.header.zxid;
        // While a reconfig is in flight, proposals need a quorum of the new configuration too.
        let joint = self.q().pending.as_ref().map(|(_, e)| e.view());
        let l = self.leader();
        l.own_unacked.push_back((seq, zxid));
        if let Some(o) = l.outstanding.as_mut() {
            match joint {
                Some(view) => o.propose_joint(zxid, view),
                None => o.propose(zxid),
            }
        }
        let to = keys_where(&l.learners, |k| k.in_broadcast() && !k.observer);
        for id in to {
            self.send(id, PeerMsg::Proposal(rec.clone()));
        }
    }

    fn on_forward(&mut self, from: ServerId, f: Forward) {
        if !self.can_propose() {
            return;
        }
        match f {
            Forward::Write { session, cxid, auth, req, wall_ms } => {
                self.propose_write(session, cxid, &auth, &req, wall_ms);
            }
            Forward::CreateSession { session, timeout_ms } => {
                if self.sessions.get(session).is_none() {
                    self.create_session(session, timeout_ms);
                }
            }
            Forward::CloseSession { session, cxid } => {
                let zxid = self.next_zxid();
                let time_ms = self.wall_ms as i64;
                let txn = if self.sessions.get(session).is_some() {
                    Txn::CloseSession
                } else {
                    Txn::Error { err: KeeperError::SessionExpired.code() }
                };
                let header = TxnHeader { session, cxid, zxid, time_ms };
                self.commit(TxnRecord { header, txn });
            }
            Forward::Sync { session, cxid } => {
                let last = self.last_zxid;
                if self.committed >= last {
                    self.send(from, PeerMsg::Synced { session, cxid });
                } else {
                    self.leader().syncs.push((from, session, cxid, last));
                }
            }
        }
    }

    /// Validates a write and makes it a transaction (an error txn when invalid).
    pub(super) fn propose_write(
        &mut self,
        session: SessionId,
        cxid: i32,
        auth: &AuthContext,
        req: &Request,
        wall_ms: u64,
    ) -> (Zxid, crate::tree::TxnResult) {
        let zxid = self.next_zxid();
        let time_ms = self.wall_ms.max(wall_ms) as i64;
        let txn = if self.sessions.get(session).is_none_or(|s| s.closing) {
            Txn::Error { err: KeeperError::SessionExpired.code() }
        } else if matches!(req, Request::Reconfig { .. }) {
            self.reconfig_txn(auth, req, zxid)
        } else {
            let ctx =
                crate::request::PrepContext { session, auth, config: &self.config, zxid, time_ms };
            crate::request::prepare(&self.tree, &ctx, req)
        };
        let rec = TxnRecord { header: TxnHeader { session, cxid, zxid, time_ms }, txn };
        (zxid, self.commit(rec))
    }

    /// A leader may propose only while established and while the epoch's counter lasts;
    /// at exhaustion it steps down so that a new epoch starts (ZooKeeper does the same).
    pub(super) fn can_propose(&mut self) -> bool {
        if !self.makes_txns() {
            return false;
        }
        if self.quorum.is_some() && self.last_zxid.counter() >= u32::MAX - 1 {
            self.go_looking();
            return false;
        }
        true
    }

    pub(super) fn leader_tick(&mut self) {
        let now = self.now_tick;
        let me = self.config.server_id;
        let (init, sync) = (self.q().ens.init_limit_ticks, self.q().ens.sync_limit_ticks);
        let l = self.leader_ref();
        if !l.established {
            if now.saturating_sub(l.started) > init {
                self.go_looking();
            }
            return;
        }
        let heard = keys_where(&l.learners, |k| {
            k.stage == Stage::Active && now.saturating_sub(k.last_heard) <= sync
        });
        // A learner silent for longer than it may be is dropped; it starts over when back.
        let stale = keys_where(&l.learners, |k| {
            let limit = if k.stage == Stage::Active { sync } else { init };
            now.saturating_sub(k.last_heard) > limit
        });
        for id in stale {
            self.leader().learners.remove(&id);
        }
        if !is_quorum_with(&self.q().view, me, true, heard) {
            self.go_looking();
            return;
        }
        if !now.is_multiple_of(self.q().ens.ping_every_ticks.max(1)) {
            return;
        }
        let to = keys_where(&self.leader_ref().learners, |k| k.in_broadcast());
        for id in to {
            self.send(id, PeerMsg::Ping);
        }
    }
}
