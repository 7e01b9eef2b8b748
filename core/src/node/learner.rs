//! FOLLOWING and OBSERVING: Zab on the learner's side (ZooKeeper's `Learner`, `Follower`,
//! `Observer`), and the learner's client path.
//!
//! The learner announces its acceptedEpoch and last zxid, accepts the leader's epoch
//! (durably, before ACKEPOCH), takes the leader's history by DIFF (records applied as
//! they come) or SNAP (its state replaced, logged records above the snapshot dropped),
//! records currentEpoch on NEWLEADER and acknowledges it once everything before is
//! durable, and serves clients after UPTODATE. In broadcast a follower logs each proposal,
//! acknowledges after its fsync (cumulatively), and applies on COMMIT; an observer applies
//! each INFORM. Client writes, new sessions, closeSession and sync go to the leader; the
//! learner answers its client when the resulting transaction commits, in the connection's
//! order: a request that arrives while an earlier one is with the leader waits behind it.
//! Invariant: a learner never acknowledges a proposal before it is durable, and never
//! applies a proposal before its COMMIT.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use super::quorum::Role;
use super::{Node, Phase};
use crate::ids::{ConnId, ServerId, SessionId, Xid, Zxid};
use crate::output::{DurableWrite, Mode, Output, ProtocolEvent};
use crate::peer::{Forward, PeerMsg};
use crate::proto::{Request, Response};
use crate::txn::{Txn, TxnRecord};

/// Where the learner is in its session with the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// LEARNERINFO sent; waiting for LEADERINFO.
    Info,
    /// The new acceptedEpoch is being made durable; ACKEPOCH follows.
    AcceptingEpoch { seq: u64 },
    /// ACKEPOCH sent; the sync is arriving.
    Syncing,
    /// NEWLEADER received; its ACK waits for currentEpoch (and the sync, which ends at
    /// `synced`) to be durable.
    NewLeader { seq: u64, synced: Zxid },
    /// NEWLEADER acknowledged.
    Broadcast,
}

/// A client operation waiting for the leader.
#[derive(Clone, Debug)]
pub(super) enum Waiting {
    Connect { conn: ConnId, timeout_ms: i32 },
    Write { conn: ConnId, xid: Xid, req: Request, wall_ms: u64 },
    Close { conn: ConnId, xid: Xid, wall_ms: u64 },
    Sync { conn: ConnId, xid: Xid, path: String, wall_ms: u64 },
}

/// FOLLOWING / OBSERVING state.
pub(super) struct Learner {
    pub(super) leader: ServerId,
    pub(super) observer: bool,
    stage: Stage,
    pub(super) up_to_date: bool,
    started: u64,
    last_heard: u64,
    /// The leader proposed an epoch older than this server accepted: it leaves at its next
    /// tick, not at once (the election would settle on the same leader in the same
    /// instant, and the two would go round without time passing; random seed 11701).
    stale: bool,
    /// Proposals logged but not committed, in zxid order.
    pub(super) pending: VecDeque<TxnRecord>,
    /// (seq, zxid) of logged proposals not yet acknowledged.
    unacked: VecDeque<(u64, Zxid)>,
    /// Sessions touched by clients since the last PONG.
    touched: BTreeSet<SessionId>,
    /// Client work with the leader, by (session, cxid).
    waiting: BTreeMap<(SessionId, i32), Waiting>,
}

impl Node {
    pub(super) fn start_learning(&mut self, leader: ServerId, observer: bool) {
        let now = self.now_tick;
        let l = Learner {
            leader,
            observer,
            stage: Stage::Info,
            up_to_date: false,
            started: now,
            last_heard: now,
            stale: false,
            pending: VecDeque::new(),
            unacked: VecDeque::new(),
            touched: BTreeSet::new(),
            waiting: BTreeMap::new(),
        };
        self.qm().role = Role::Learning(Box::new(l));
        self.send_learner_info();
    }

    /// Sends LEARNERINFO (this server's accepted epoch and last logged zxid) to its leader.
    fn send_learner_info(&mut self) {
        let l = self.learner_ref();
        let (leader, observer) = (l.leader, l.observer);
        let msg = PeerMsg::LearnerInfo {
            accepted_epoch: self.q().accepted_epoch,
            last_zxid: self.q().last_logged,
            observer,
        };
        self.send(leader, msg);
    }

    fn learner(&mut self) -> &mut Learner {
        match &mut self.qm().role {
            Role::Learning(l) => l,
            _ => unreachable!("learner state used while not learning"),
        }
    }
    pub(super) fn learner_ref(&self) -> &Learner {
        match &self.q().role {
            Role::Learning(l) => l,
            _ => unreachable!("learner state used while not learning"),
        }
    }

    pub(super) fn learner_on_peer(&mut self, from: ServerId, msg: PeerMsg) {
        if from != self.learner_ref().leader {
            return;
        }
        self.learner().last_heard = self.now_tick;
        let stage = self.learner_ref().stage;
        match msg {
            PeerMsg::LeaderInfo { epoch } if stage == Stage::Info => {
                let accepted = self.q().accepted_epoch;
                if epoch < accepted {
                    self.learner().stale = true; // a stale leader: leave at the next tick
                } else if epoch > accepted {
                    self.qm().accepted_epoch = epoch;
                    let seq = self.persist_other(DurableWrite::AcceptedEpoch(epoch));
                    self.learner().stage = Stage::AcceptingEpoch { seq };
                } else {
                    self.send_ack_epoch();
                }
            }
            PeerMsg::Diff { .. } if stage == Stage::Syncing => {}
            PeerMsg::Snap { zxid, image } if stage == Stage::Syncing => self.take_snap(zxid, image),
            PeerMsg::Proposal(rec) if stage == Stage::Syncing => {
                // Part of the leader's history: logged and applied at once.
                if rec.header.zxid > self.q().last_logged {
                    self.log_record(&rec);
                    self.apply_txn(&rec, false);
                }
            }
            PeerMsg::NewLeader { epoch } if stage == Stage::Syncing => {
                // The leader's history may hold a newer configuration.
                self.adopt_config_from_tree();
                if !matches!(self.q().role, Role::Learning(_)) {
                    return;
                }
                self.qm().current_epoch = epoch;
                let seq = self.persist_other(DurableWrite::CurrentEpoch(epoch));
                let synced = self.q().last_logged;
                self.learner().stage = Stage::NewLeader { seq, synced };
            }
            PeerMsg::Proposal(rec)
                if matches!(stage, Stage::NewLeader { .. } | Stage::Broadcast) =>
            {
                if rec.header.zxid > self.q().last_logged {
                    let seq = self.log_record(&rec);
                    let l = self.learner();
                    l.unacked.push_back((seq, rec.header.zxid));
                    l.pending.push_back(rec);
                }
            }
            PeerMsg::Commit(zxid) => self.learner_commit(zxid),
            PeerMsg::Inform(rec) if matches!(stage, Stage::NewLeader { .. } | Stage::Broadcast) => {
                if rec.header.zxid > self.q().last_logged {
                    self.log_record(&rec);
                    self.detach_local_closer(&rec);
                    let result = self.apply_txn(&rec, true);
                    self.committed = self.committed.max(rec.header.zxid);
                    self.complete_local(&rec, result);
                    if super::reconfig::reconfig_text(&rec.txn).is_some() {
                        self.adopt_config_from_tree();
                    }
                    self.release_ready();
                }
            }
            PeerMsg::UpToDate { committed } => {
                self.committed = self.committed.max(committed);
                let observer = self.learner_ref().observer;
                self.learner().up_to_date = true;
                self.set_mode(if observer { Mode::Observer } else { Mode::Follower });
                self.release_ready();
            }
            PeerMsg::Ping => {
                let touched: Vec<SessionId> =
                    std::mem::take(&mut self.learner().touched).into_iter().collect();
                self.send(from, PeerMsg::Pong { touched });
            }
            PeerMsg::Synced { session, cxid } => {
                if let Some(Waiting::Sync { conn, xid, path, wall_ms }) =
                    self.learner().waiting.remove(&(session, cxid))
                {
                    self.reply(conn, xid, Ok(Response::Sync { path }), Some(wall_ms));
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.syncs_with_leader = c.syncs_with_leader.saturating_sub(1);
                    }
                    self.forward_done(conn);
                }
            }
            // Anything else out of order means the leader and learner disagree about where
            // they are: start over.
            _ => self.go_looking(),
        }
    }

    fn send_ack_epoch(&mut self) {
        let leader = self.learner_ref().leader;
        let (current_epoch, last_zxid) = (self.q().current_epoch, self.q().last_logged);
        self.learner().stage = Stage::Syncing;
        self.send(leader, PeerMsg::AckEpoch { current_epoch, last_zxid });
    }

    /// Logs one record (a Persist append) and remembers it for DIFFs; returns its seq.
    fn log_record(&mut self, rec: &TxnRecord) -> u64 {
        let seq = self.persist_append(rec.clone());
        let committed = self.committed;
        self.qm().remember(rec, committed);
        seq
    }

    /// SNAP: the leader's state replaces ours; records logged above it are dropped.
    fn take_snap(&mut self, zxid: Zxid, image: Bytes) {
        let state = match crate::persist::decode_snapshot(&image) {
            Ok(s) => s,
            Err(_) => {
                self.go_looking(); // a damaged transfer: try again from the start
                return;
            }
        };
        self.tree = state.tree;
        let entropy = rand::Rng::next_u64(&mut self.rng);
        self.sessions = crate::session::SessionTable::new(self.config.server_id, entropy);
        for (id, timeout_ms) in &state.sessions {
            let deadline = self.deadline_for(*timeout_ms);
            self.sessions.add(*id, *timeout_ms, deadline);
        }
        self.last_zxid = zxid;
        self.committed = self.committed.max(zxid);
        let q = self.qm();
        q.last_logged = zxid;
        q.window.clear();
        q.window_start = zxid;
        self.txns_since_snapshot = 0;
        self.persist_other(DurableWrite::Snapshot { zxid, image });
        let seq = self.persist_other(DurableWrite::Truncate { to: zxid });
        self.note_replaced(zxid, seq);
        self.event(ProtocolEvent::Snapped { zxid, digest: self.tree.digest() });
    }

    /// COMMIT: applies every pending proposal up to `zxid`, answering local clients.
    fn learner_commit(&mut self, zxid: Zxid) {
        self.committed = self.committed.max(zxid);
        loop {
            let l = self.learner();
            if l.pending.front().is_none_or(|r| r.header.zxid > zxid) {
                break;
            }
            let rec = l.pending.pop_front().expect("front exists");
            self.detach_local_closer(&rec);
            let result = self.apply_txn(&rec, true);
            if self.txns_since_snapshot >= self.snapshot_after {
                self.take_snapshot();
            }
            self.complete_local(&rec, result);
            if super::reconfig::reconfig_text(&rec.txn).is_some() {
                self.adopt_config_from_tree();
                if !matches!(self.q().role, Role::Learning(_)) {
                    return; // the new configuration gave this node another role
                }
            }
        }
        self.release_ready();
    }

    /// A local client's own closeSession is answered before its connection closes
    /// (complete_local does both, after the apply): detach the session from the connection
    /// so that applying the close does not shut the connection first. Followers (COMMIT)
    /// and observers (INFORM) alike; kazoo's test_connection_and_disconnection otherwise
    /// sees a broken connection, SUSPENDED, before LOST.
    fn detach_local_closer(&mut self, rec: &TxnRecord) {
        let key = (rec.header.session, rec.header.cxid);
        if matches!(self.learner().waiting.get(&key), Some(Waiting::Close { .. })) {
            if let Some(s) = self.sessions.get_mut(rec.header.session) {
                s.conn = None;
            }
        }
    }

    /// Answers the local client whose request became `rec`, if it is ours.
    fn complete_local(&mut self, rec: &TxnRecord, result: crate::tree::TxnResult) {
        let key = (rec.header.session, rec.header.cxid);
        let Some(w) = self.learner().waiting.remove(&key) else { return };
        match w {
            Waiting::Connect { conn, timeout_ms } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.with_leader = c.with_leader.saturating_sub(1);
                }
                let id = rec.header.session;
                if !matches!(rec.txn, Txn::CreateSession { .. }) {
                    self.close_conn(conn);
                    return;
                }
                if !self.conns.get(&conn).is_some_and(|c| c.phase == Phase::AwaitConnect) {
                    return; // the client went away; the session will expire
                }
                self.attach(conn, id, timeout_ms);
                self.connected(conn, id, timeout_ms, Some(false));
            }
            Waiting::Write { conn, xid, req, wall_ms } => {
                let reply = self.reconfig_reply(&req, super::writes::write_response(&req, result));
                let zxid = rec.header.zxid;
                self.emit(Output::Reply { conn, xid, zxid, result: reply }, Some(wall_ms));
                self.forward_done(conn);
            }
            Waiting::Close { conn, xid, wall_ms } => {
                let zxid = rec.header.zxid;
                let result = Ok(Response::Empty);
                self.emit(Output::Reply { conn, xid, zxid, result }, Some(wall_ms));
                self.close_conn(conn);
            }
            Waiting::Sync { .. } => {}
        }
    }

    /// Learners acknowledge what became durable; the first ACK answers NEWLEADER.
    pub(super) fn learner_on_persisted(&mut self) {
        let durable = self.durable_seq;
        let leader = self.learner_ref().leader;
        match self.learner_ref().stage {
            Stage::AcceptingEpoch { seq } if durable >= seq => self.send_ack_epoch(),
            Stage::NewLeader { seq, synced } if durable >= seq => {
                let l = self.learner();
                l.stage = Stage::Broadcast;
                // Proposals logged after NEWLEADER are covered once they are durable too.
                let mut ack = synced;
                while l.unacked.front().is_some_and(|(s, _)| *s <= durable) {
                    ack = l.unacked.pop_front().expect("front exists").1;
                }
                self.send(leader, PeerMsg::Ack { zxid: ack });
            }
            Stage::Broadcast => {
                let l = self.learner();
                let mut last = None;
                while l.unacked.front().is_some_and(|(s, _)| *s <= durable) {
                    last = l.unacked.pop_front().map(|(_, z)| z);
                }
                if let (Some(zxid), false) = (last, l.observer) {
                    self.send(leader, PeerMsg::Ack { zxid });
                }
            }
            _ => {}
        }
    }

    pub(super) fn learner_tick(&mut self) {
        let now = self.now_tick;
        let (init, sync) = (self.q().ens.init_limit_ticks, self.q().ens.sync_limit_ticks);
        let l = self.learner_ref();
        let silent = now.saturating_sub(l.last_heard);
        let limit = if l.up_to_date { sync } else { init };
        if l.stale || silent > limit || (!l.up_to_date && now.saturating_sub(l.started) > init * 2)
        {
            self.go_looking();
            return;
        }
        // No LEADERINFO yet: the LEADERINFO request may have been sent while there was no
        // link to the leader (the higher id dials, on its own backoff, so a restarted
        // member can decide before its leader reconnects) and dropped. Ask again on the
        // election's resend interval, as a ZooKeeper learner keeps redialling its leader
        // until initLimit; the leader treats a repeat as the start of this learner's sync.
        let every = self.q().ens.election.resend_min_ticks.max(1);
        let l = self.learner_ref();
        let waited = now.saturating_sub(l.started);
        if l.stage == Stage::Info && waited > 0 && waited.is_multiple_of(every) {
            self.send_learner_info();
        }
    }

    /// Records that a client touched its session (reported to the leader in PONG).
    pub(super) fn learner_touch(&mut self, id: SessionId) {
        self.learner().touched.insert(id);
    }

    /// Hands client work to the leader and remembers whom to answer.
    pub(super) fn forward(&mut self, conn: ConnId, f: Forward, w: Waiting) {
        let key = match &f {
            Forward::Write { session, cxid, .. }
            | Forward::CloseSession { session, cxid }
            | Forward::Sync { session, cxid } => (*session, *cxid),
            Forward::CreateSession { session, .. } => (*session, 0),
        };
        let leader = self.learner_ref().leader;
        self.learner().waiting.insert(key, w);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.with_leader += 1;
            if matches!(f, Forward::Sync { .. }) {
                c.syncs_with_leader += 1;
            }
        }
        self.send(leader, PeerMsg::Forward(f));
    }

    /// One of the connection's requests came back from the leader: run what queued behind.
    pub(super) fn forward_done(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.with_leader = c.with_leader.saturating_sub(1);
        while let Some(c) = self.conns.get_mut(&conn) {
            let Some((xid, req, wall_ms)) = c.queued.front().cloned() else { break };
            if c.syncs_with_leader > 0 || (c.with_leader > 0 && !goes_to_leader(&req)) {
                break;
            }
            c.queued.pop_front();
            self.dispatch_request(conn, xid, req, wall_ms);
        }
    }

    /// A learner's handling of a validated request that the leader must order.
    pub(super) fn learner_request(
        &mut self,
        conn: ConnId,
        xid: Xid,
        session: SessionId,
        req: Request,
        wall_ms: u64,
    ) {
        match req {
            Request::CloseSession => {
                if let Some(s) = self.sessions.get_mut(session) {
                    s.closing = true;
                }
                let f = Forward::CloseSession { session, cxid: xid.0 };
                self.forward(conn, f, Waiting::Close { conn, xid, wall_ms });
            }
            Request::Sync { path } => {
                if let Err(e) = crate::path::validate(&path) {
                    self.reply(conn, xid, Err(e), Some(wall_ms));
                    return;
                }
                let f = Forward::Sync { session, cxid: xid.0 };
                self.forward(conn, f, Waiting::Sync { conn, xid, path, wall_ms });
            }
            req => {
                let auth = self.conns[&conn].auth.clone();
                let f = Forward::Write { session, cxid: xid.0, auth, req: req.clone(), wall_ms };
                self.forward(conn, f, Waiting::Write { conn, xid, req, wall_ms });
            }
        }
    }

    /// A new session on a learner: the leader makes it a transaction.
    pub(super) fn learner_new_session(&mut self, conn: ConnId, timeout_ms: i32) {
        let session = self.sessions.next_session_id();
        let f = Forward::CreateSession { session, timeout_ms };
        self.forward(conn, f, Waiting::Connect { conn, timeout_ms });
    }
}

/// True for requests a learner sends to its leader.
pub(super) fn goes_to_leader(req: &Request) -> bool {
    let answered_here = matches!(req, Request::Check { .. });
    (req.is_write() && !answered_here) || matches!(req, Request::Sync { .. })
}
