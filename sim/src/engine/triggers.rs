//! Event-triggered faults: a fault with `on = { event = ..., ... }` fires on a protocol
//! step instead of at a time (crash node 2 right after its new currentEpoch is durable;
//! drop the COMMIT of one zxid to node 3; crash the leader once a follower has PROPOSAL n).
//!
//! The engine reports every step it sees to `observed`: messages a node sends and
//! receives, writes that become durable, and the core's `ProtocolEvent`s. A matching
//! trigger counts the match; on its `count`-th it fires. A `drop` is applied at once, to
//! the very message; every other action is queued and runs right after the step that
//! caused it, at the same virtual instant (for `durable`, before the node hears that its
//! write is durable, so it cannot act on it). Invariant: each trigger fires at most once,
//! and only at or after its fault's `at`; with no triggers in the scenario nothing is
//! matched at all.

use keeper_core::output::{DurableWrite, ProtocolEvent};
use keeper_core::peer::PeerMsg;
use keeper_core::txn::Txn;
use keeper_core::Zxid;

use super::Sim;
use crate::scenario::{parse_duration_ms, Action};

/// One step a trigger can match.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Step {
    pub(super) event: &'static str,
    pub(super) node: u64,
    pub(super) msg: Option<&'static str>,
    pub(super) peer: Option<u64>,
    pub(super) write: Option<&'static str>,
    pub(super) txn: Option<&'static str>,
    pub(super) zxid: Option<Zxid>,
    pub(super) epoch: Option<u32>,
}

/// A trigger's progress.
#[derive(Clone, Debug)]
pub(super) struct Armed {
    pub(super) index: usize,
    at_ms: u64,
    matches: u64,
    /// When it fired (for the liveness checker: that is when its fault happened).
    pub(super) fired_ms: Option<u64>,
}

impl Step {
    /// The step of `node` sending (`event = "send"`) or receiving `msg` to or from `peer`.
    pub(super) fn message(event: &'static str, node: u64, peer: u64, msg: &PeerMsg) -> Step {
        let (zxid, epoch) = match msg {
            PeerMsg::Proposal(r) | PeerMsg::Inform(r) => (Some(r.header.zxid), None),
            PeerMsg::Commit(z) | PeerMsg::Ack { zxid: z } => (Some(*z), None),
            PeerMsg::Diff { after } => (Some(*after), None),
            PeerMsg::Snap { zxid, .. } => (Some(*zxid), None),
            PeerMsg::UpToDate { committed } => (Some(*committed), None),
            PeerMsg::LearnerInfo { last_zxid, accepted_epoch, .. } => {
                (Some(*last_zxid), Some(*accepted_epoch))
            }
            PeerMsg::AckEpoch { current_epoch, last_zxid } => {
                (Some(*last_zxid), Some(*current_epoch))
            }
            PeerMsg::LeaderInfo { epoch } | PeerMsg::NewLeader { epoch } => (None, Some(*epoch)),
            PeerMsg::Vote(n) => (Some(n.vote.zxid), Some(n.vote.peer_epoch)),
            PeerMsg::Ping | PeerMsg::Pong { .. } | PeerMsg::Forward(_) | PeerMsg::Synced { .. } => {
                (None, None)
            }
        };
        let txn = match msg {
            PeerMsg::Proposal(r) | PeerMsg::Inform(r) => Some(txn_kind(&r.txn)),
            _ => None,
        };
        Step { event, node, msg: Some(msg.kind()), peer: Some(peer), zxid, epoch, write: None, txn }
    }

    /// The step of `node`'s `write` becoming durable.
    pub(super) fn durable(node: u64, write: &DurableWrite) -> Step {
        let (w, zxid, epoch) = match write {
            DurableWrite::Append(r) => ("append", Some(r.header.zxid), None),
            DurableWrite::Snapshot { zxid, .. } => ("snapshot", Some(*zxid), None),
            DurableWrite::Truncate { to } => ("truncate", Some(*to), None),
            DurableWrite::AcceptedEpoch(e) => ("accepted_epoch", None, Some(*e)),
            DurableWrite::CurrentEpoch(e) => ("current_epoch", None, Some(*e)),
        };
        let txn = match write {
            DurableWrite::Append(r) => Some(txn_kind(&r.txn)),
            _ => None,
        };
        Step { event: "durable", node, write: Some(w), zxid, epoch, txn, ..Step::default() }
    }

    /// The step a core `ProtocolEvent` of `node` is.
    pub(super) fn protocol(node: u64, e: &ProtocolEvent) -> Step {
        let (event, zxid, epoch) = match *e {
            ProtocolEvent::Applied { zxid, .. } => ("applied", Some(zxid), None),
            ProtocolEvent::Snapped { zxid, .. } => ("snapped", Some(zxid), None),
            ProtocolEvent::Recovered { zxid, .. } => ("recovered", Some(zxid), None),
            ProtocolEvent::Established { epoch } => ("established", None, Some(epoch)),
            ProtocolEvent::Committed { zxid } => ("committed", Some(zxid), None),
            ProtocolEvent::Looking { last_zxid } => ("looking", Some(last_zxid), None),
            ProtocolEvent::Reconfigured { version } => ("reconfigured", Some(version), None),
        };
        Step { event, node, zxid, epoch, ..Step::default() }
    }
}

/// A peer message as the trace prints it: its kind and the fields the protocol turns on
/// (zxids, epochs, votes, the transaction's session, cxid and kind), not payloads. A
/// payload's effect still reaches the trace hash through the tree digest of every
/// `Applied` event; printing it in full cost over half of a run's time.
pub(super) struct Brief<'a>(pub(super) &'a PeerMsg);

impl std::fmt::Display for Brief<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.0.kind();
        match self.0 {
            PeerMsg::Proposal(r) | PeerMsg::Inform(r) => {
                let h = &r.header;
                write!(f, "{kind} {} {} {} {}", h.zxid, h.session, h.cxid, txn_kind(&r.txn))
            }
            PeerMsg::Vote(n) => write!(
                f,
                "{kind} {:?} leader={} zxid={} epoch={} round={}",
                n.state, n.vote.leader, n.vote.zxid, n.vote.peer_epoch, n.election_epoch
            ),
            PeerMsg::Snap { zxid, image } => write!(f, "{kind} {zxid} ({} bytes)", image.len()),
            PeerMsg::Forward(_) | PeerMsg::Pong { .. } => write!(f, "{:?}", self.0),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A transaction's kind as triggers name it (`Trigger::TXNS`).
pub(super) fn txn_kind(txn: &Txn) -> &'static str {
    match txn {
        Txn::CreateSession { .. } => "create_session",
        Txn::CloseSession => "close_session",
        Txn::Create { .. } => "create",
        Txn::Delete { .. } => "delete",
        Txn::SetData { .. } => "set_data",
        Txn::SetAcl { .. } => "set_acl",
        Txn::Check { .. } => "check",
        Txn::Error { .. } => "error",
        Txn::Multi(_) => "multi",
    }
}

impl Sim {
    /// The triggers of the scenario's event-triggered faults.
    pub(super) fn arm_triggers(&mut self) {
        for (index, f) in self.sc.faults.iter().enumerate() {
            if f.on.is_some() {
                let at_ms = parse_duration_ms(&f.at).expect("validated");
                self.armed.push(Armed { index, at_ms, matches: 0, fired_ms: None });
            }
        }
    }

    /// Counts `step` against every armed trigger. Returns true when a `drop` fired on it
    /// (the caller loses the message); other actions are queued for `fire_triggered`.
    pub(super) fn observed(&mut self, step: Step) -> bool {
        if self.armed.is_empty() {
            return false;
        }
        let mut dropped = false;
        for i in 0..self.armed.len() {
            let a = &self.armed[i];
            if a.fired_ms.is_some() || self.now < a.at_ms {
                continue;
            }
            let f = &self.sc.faults[a.index];
            let t = f.on.as_ref().expect("armed faults have triggers");
            if self.now > t.until_ms() {
                continue;
            }
            let hit = t.event == step.event
                && t.node.is_none_or(|n| n == step.node)
                && t.msg.as_deref().is_none_or(|m| Some(m) == step.msg)
                && t.peer.is_none_or(|p| Some(p) == step.peer)
                && t.write.as_deref().is_none_or(|w| Some(w) == step.write)
                && t.txn.as_deref().is_none_or(|x| Some(x) == step.txn)
                && t.zxid_value().is_none_or(|z| Some(z) == step.zxid)
                && t.epoch.is_none_or(|e| Some(e) == step.epoch);
            if !hit {
                continue;
            }
            let want = t.count.unwrap_or(1);
            let (index, action) = (a.index, f.action);
            let a = &mut self.armed[i];
            a.matches += 1;
            if a.matches < want {
                continue;
            }
            a.fired_ms = Some(self.now);
            let what = format!(
                "{action:?} on {} node={} {}",
                step.event,
                step.node,
                step.msg.or(step.write).unwrap_or("")
            );
            self.trace.event(self.now, "trigger", what.trim_end());
            if action == Action::Drop {
                dropped = true;
            } else {
                self.fire_queue.push((index, step.node));
            }
        }
        dropped
    }

    /// Runs the faults whose triggers fired, in the order they fired.
    pub(super) fn fire_triggered(&mut self) {
        while !self.fire_queue.is_empty() {
            let (index, node) = self.fire_queue.remove(0);
            self.fault_on(index, Some(node));
        }
    }

    /// When each fault that happened ended (`at` plus duration for timed faults; the
    /// instant it fired plus duration for triggered ones; never-fired triggers: none).
    pub(super) fn fault_ends(&self) -> Vec<u64> {
        let fired = |i: usize| self.armed.iter().find(|a| a.index == i).and_then(|a| a.fired_ms);
        self.sc
            .faults
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let start = if f.on.is_some() { fired(i)? } else { f.at_ms() };
                Some(start + f.end_ms() - f.at_ms())
            })
            .collect()
    }

    /// Loses the message on the `from`–`to` connection: as any loss, it breaks it.
    pub(super) fn break_link(&mut self, from: u64, to: u64) {
        let k = (from.min(to), from.max(to));
        let link = self.links.entry(k).or_default();
        if link.up {
            link.up = false;
            link.generation += 1;
        }
    }
}
