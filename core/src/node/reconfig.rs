//! Dynamic reconfiguration (`reconfigEnabled=true`), as ZooKeeper 3.5+ does it.
//!
//! The configuration lives in the tree: a reconfig is a setData transaction on
//! `/zookeeper/config` whose new stat version is -1 (as ZooKeeper's reconfig txn leaves
//! it), carrying [`Ensemble::config_text`] with `version=<the txn's zxid>`. It is therefore
//! logged, replicated, snapshotted and synced (DIFF or SNAP) like any other transaction,
//! and a node can always rebuild its configuration from its tree.
//!
//! The leader validates a request in ZooKeeper's order (`PrepRequestProcessor`):
//! RECONFIGDISABLED, UNIMPLEMENTED when standalone, RECONFIGINPROGRESS while an earlier
//! reconfig is uncommitted, BADVERSION when `curConfigId` is neither -1 nor the current
//! version, BADARGUMENTS for input it cannot parse or a result with fewer than two voters
//! (one with `standaloneEnabled=false`),
//! NEWCONFIGNOQUORUM when the new voters lack a quorum synced with the leader, and last
//! NOAUTH unless the caller is super (or skipACL is on). A failed reconfig is an error
//! transaction, as every failed write is.
//!
//! From the reconfig proposal until it commits, every proposal (the reconfig included)
//! needs a quorum of acknowledgements in both the old and the new configuration. The new
//! configuration becomes active on the leader when the reconfig commits and on a learner
//! when it applies it; a node whose role changed goes LOOKING to take its new role, a
//! removed leader steps down, and a node that is no longer a member never votes or leads
//! but keeps following the leader as a non-voting learner, so a later reconfig can add it
//! back. Every activation emits `ProtocolEvent::Reconfigured`.
//!
//! Election notifications carry the sender's configuration ([`SenderConfig`]), as
//! FastLeaderElection's do: a LOOKING node that hears of a newer one adopts it and restarts
//! its election round in it. That is how a server that missed a reconfig while cut off (one
//! removed and then added back, say) learns it is a voter again without a leader to sync
//! with, which the others may need to elect one. The adopted configuration need not be in
//! the node's log yet; the leader's sync brings the tree (and so the log) up to date, and
//! when the node next syncs its tree's configuration is authoritative again.
//!
//! Invariant: `Quorum::ens` is the configuration of the newest committed (on a LOOKING
//! node: logged, or newer when adopted from a notification) reconfig transaction in the
//! node's tree, or zoo.cfg's when there is none; it never goes back while LOOKING.

use bytes::Bytes;

use super::quorum::Role;
use super::Node;
use crate::acl::AuthContext;
use crate::config::Ensemble;
use crate::election::SenderConfig;
use crate::error::KeeperError;
use crate::ids::{ServerId, Zxid};
use crate::output::ProtocolEvent;
use crate::proto::{Request, Response};
use crate::txn::Txn;

/// The path that holds the configuration.
pub(super) const CONFIG_PATH: &str = "/zookeeper/config";

/// The configuration text a transaction installs, if it is a reconfig.
pub(super) fn reconfig_text(txn: &Txn) -> Option<&Bytes> {
    match txn {
        Txn::SetData { path, data: Some(d), version: -1 } if path == CONFIG_PATH => Some(d),
        _ => None,
    }
}

impl Node {
    /// The configuration the node runs with now (`None` when standalone).
    pub fn ensemble(&self) -> Option<&Ensemble> {
        self.quorum.as_ref().map(|q| &q.ens)
    }

    /// The leader's transaction for a reconfig request: the new configuration's setData,
    /// or the error ZooKeeper would give. Records the proposed configuration as pending.
    pub(super) fn reconfig_txn(&mut self, auth: &AuthContext, req: &Request, zxid: Zxid) -> Txn {
        match self.prepare_reconfig(auth, req, zxid) {
            Ok(ens) => {
                let text = ens.config_text();
                self.qm().pending = Some((zxid, ens));
                Txn::SetData {
                    path: CONFIG_PATH.into(),
                    data: Some(Bytes::from(text.into_bytes())),
                    version: -1,
                }
            }
            Err(e) => Txn::Error { err: e.code() },
        }
    }

    fn prepare_reconfig(
        &self,
        auth: &AuthContext,
        req: &Request,
        zxid: Zxid,
    ) -> Result<Ensemble, KeeperError> {
        let Request::Reconfig { joining, leaving, new_members, cur_config_id } = req else {
            return Err(KeeperError::BadArguments);
        };
        if !self.config.reconfig_enabled {
            return Err(KeeperError::ReconfigDisabled);
        }
        let Some(q) = self.quorum.as_ref() else { return Err(KeeperError::Unimplemented) };
        if q.pending.is_some() {
            return Err(KeeperError::ReconfigInProgress);
        }
        if *cur_config_id != -1 && *cur_config_id as u64 != q.ens.version {
            return Err(KeeperError::BadVersion);
        }
        let mut next = q.ens.clone();
        if let Some(members) = given(new_members.as_deref()) {
            let text = members.replace(',', "\n");
            next = q.ens.with_config_text(&text).map_err(|_| KeeperError::BadArguments)?;
        } else {
            for id in given(leaving.as_deref()).map(|l| l.split(',')).into_iter().flatten() {
                let id: u64 = id.trim().parse().map_err(|_| KeeperError::BadArguments)?;
                remove_member(&mut next, ServerId(id));
            }
            for joiner in given(joining.as_deref()).map(|j| j.split(',')).into_iter().flatten() {
                let (key, spec) = joiner.trim().split_once('=').ok_or(KeeperError::BadArguments)?;
                let id = key.rsplit('.').next().and_then(|i| i.parse::<u64>().ok());
                let id = ServerId(id.ok_or(KeeperError::BadArguments)?);
                let line = crate::zoocfg::parse_server_spec(spec)
                    .map_err(|_| KeeperError::BadArguments)?;
                if line.client_port.is_none() {
                    return Err(KeeperError::BadArguments); // all three ports are required
                }
                remove_member(&mut next, id);
                if line.observer {
                    next.observers.push(id);
                    next.observers.sort();
                } else {
                    next.participants.push(id);
                    next.participants.sort();
                }
                next.servers.insert(id, line);
            }
        }
        next.version = zxid.0;
        let fewest = if self.config.standalone_enabled { 2 } else { 1 };
        if next.participants.len() < fewest {
            return Err(KeeperError::BadArguments); // standaloneEnabled: at least 2 voters
        }
        let me = self.config.server_id;
        let view = next.view();
        let synced: Vec<ServerId> = match &q.role {
            Role::Leading(l) => l.active_followers(),
            _ => Vec::new(),
        };
        if !super::quorum::is_quorum_with(&view, me, true, synced) {
            return Err(KeeperError::NewConfigNoQuorum);
        }
        let acl = self.tree.get(CONFIG_PATH).map(|n| n.acl.to_vec()).unwrap_or_default();
        if !crate::acl::check(&acl, auth, crate::proto::perms::WRITE, self.config.skip_acl) {
            return Err(KeeperError::NoAuth);
        }
        Ok(next)
    }

    /// A reconfig's reply is the new `/zookeeper/config` (data and stat), like getData.
    pub(super) fn reconfig_reply(
        &self,
        req: &Request,
        reply: Result<Response, KeeperError>,
    ) -> Result<Response, KeeperError> {
        match (req, reply) {
            (Request::Reconfig { .. }, Ok(Response::Stat(stat))) => Ok(Response::GetData {
                data: self.tree.get(CONFIG_PATH).and_then(|n| n.data.cloned()),
                stat,
            }),
            (_, reply) => reply,
        }
    }

    /// ZooKeeper puts zoo.cfg's configuration into `/zookeeper/config` at start-up (outside
    /// any transaction); keeper's tree holds it only after a reconfig, so a read of the
    /// never-reconfigured node is answered with the active configuration's text.
    pub(super) fn static_config_read(
        &self,
        req: &Request,
        result: Result<Response, KeeperError>,
    ) -> Result<Response, KeeperError> {
        let (Some(q), Request::GetData { path, .. }) = (self.quorum.as_ref(), req) else {
            return result;
        };
        match result {
            Ok(Response::GetData { data, mut stat })
                if path == CONFIG_PATH
                    && stat.version == 0
                    && data.as_ref().is_none_or(|d| d.is_empty()) =>
            {
                let text = Bytes::from(q.ens.config_text().into_bytes());
                stat.data_length = text.len() as i32;
                Ok(Response::GetData { data: Some(text), stat })
            }
            other => other,
        }
    }

    /// The leader committed through `last`: a pending reconfig up to it becomes active.
    pub(super) fn reconfig_committed(&mut self, last: Zxid) {
        let due = self.q().pending.as_ref().is_some_and(|(z, _)| *z <= last);
        if due {
            let (_, ens) = self.qm().pending.take().expect("checked");
            self.activate_config(ens);
        }
    }

    /// The node's tree may hold a newer configuration (recovery, SNAP, a learner's
    /// commit, leaving a role): adopt it.
    pub(super) fn adopt_config_from_tree(&mut self) {
        let Some(ens) = self.tree_config() else { return };
        if ens.version != self.q().ens.version {
            self.activate_config(ens);
        }
    }

    /// As `adopt_config_from_tree`, but only a configuration newer than the active one: a
    /// LOOKING node's may have come from a notification before its log had it.
    pub(super) fn adopt_newer_config_from_tree(&mut self) {
        let Some(ens) = self.tree_config() else { return };
        if ens.version > self.q().ens.version {
            self.activate_config(ens);
        }
    }

    /// The configuration of the newest reconfig in the tree (`None` when there is none).
    fn tree_config(&self) -> Option<Ensemble> {
        let q = self.quorum.as_ref()?;
        let node = self.tree.get(CONFIG_PATH)?;
        if node.stat.version != -1 {
            return None; // never reconfigured: zoo.cfg's configuration stands
        }
        let text = node.data.and_then(|d| std::str::from_utf8(d).ok())?;
        q.ens.with_config_text(text).ok()
    }

    /// A LOOKING node heard a notification carrying `c`: if that configuration is newer
    /// than its own (and well formed), adopt it and start a new round in it
    /// (FastLeaderElection's receiver does the same).
    pub(super) fn adopt_config_from_vote(&mut self, c: &SenderConfig) {
        let Some(q) = self.quorum.as_ref() else { return };
        if c.version <= q.ens.version || !matches!(q.role, Role::Looking) {
            return;
        }
        let Some(text) = std::str::from_utf8(&c.text).ok() else { return };
        let Ok(ens) = q.ens.with_config_text(text) else { return };
        if ens.version != c.version {
            return; // the text does not describe what the sender claims
        }
        self.activate_config(ens);
        self.restart_election();
    }

    /// Makes `ens` the active configuration; see the module documentation.
    fn activate_config(&mut self, ens: Ensemble) {
        let me = self.config.server_id;
        let version = Zxid(ens.version);
        let q = self.qm();
        if q.pending.as_ref().is_some_and(|(z, _)| z.0 <= ens.version) {
            q.pending = None;
        }
        q.ens = ens;
        q.view = q.ens.view();
        let view = q.view.clone();
        q.election.set_view(view.clone());
        q.election.set_config_epoch(version.epoch());
        let stamp = sender_config(&q.ens);
        q.election.set_config(stamp);
        self.event(ProtocolEvent::Reconfigured { version });
        let now = role_in(&self.q().ens, me);
        match &mut self.qm().role {
            Role::Leading(l) => {
                l.reconfigured(&view);
                if now != Some(true) {
                    self.go_looking(); // a removed (or demoted) leader steps down
                }
            }
            Role::Learning(l) => {
                // A removed server keeps following as a non-voting learner (so that a
                // later reconfig can add it back); any other change of role re-elects.
                let observing = l.observer;
                let stays = now == Some(!observing) || (now.is_none() && observing);
                if !stays {
                    self.go_looking();
                }
            }
            Role::Looking => {}
        }
    }
}

/// What a node's notifications carry for configuration `ens`: its version and text (no
/// text for zoo.cfg's, version 0, which no receiver adopts).
pub(super) fn sender_config(ens: &Ensemble) -> SenderConfig {
    let text = if ens.version == 0 { Bytes::new() } else { Bytes::from(ens.config_text()) };
    SenderConfig { version: ens.version, text }
}

/// The text of an optional request field, when it says anything.
fn given(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// `Some(true)` for a participant, `Some(false)` for an observer, `None` if not a member.
fn role_in(ens: &Ensemble, id: ServerId) -> Option<bool> {
    if ens.participants.contains(&id) {
        Some(true)
    } else if ens.observers.contains(&id) {
        Some(false)
    } else {
        None
    }
}

fn remove_member(e: &mut Ensemble, id: ServerId) {
    e.participants.retain(|p| *p != id);
    e.observers.retain(|o| *o != id);
    e.servers.remove(&id);
}
