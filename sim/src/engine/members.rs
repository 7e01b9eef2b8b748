//! Membership and client departures: the ensemble each node starts with (`initial_members`),
//! the `reconfig` fault (a client session sends ZooKeeper's reconfig request through the
//! server it is connected to, so the change goes through the core's own request path), and
//! the `abandon` fault (a client walks away without closing its session).
//!
//! Invariants: a node outside `initial_members` starts as a joining server would (its own
//! configuration names the members and itself) and becomes a member only by a committed
//! reconfig; an abandoned client sends nothing more, ever (no pings, requests or
//! reconnects), so its session can end only by expiry.

use keeper_core::config::Ensemble;
use keeper_core::proto::Request;
use keeper_core::{ConnId, Input, ServerId, Xid};

use super::{Sim, VIRTUAL_EPOCH_MS};
use crate::check_faults::AbandonedFate;
use crate::client::ConnState;
use crate::scenario::Action;

impl Sim {
    /// True when the nodes run with reconfiguration enabled: the scenario reconfigures, or
    /// starts some node outside the ensemble. ACLs are skipped then (the workload's znodes
    /// are open anyway), as the reconfig needs a super user otherwise.
    pub(super) fn reconfigures(&self) -> bool {
        !self.sc.initial_members.is_empty()
            || self.sc.faults.iter().any(|f| f.action == Action::Reconfig)
    }

    /// The configuration node `id` starts with (see the module invariants).
    pub(super) fn initial_ensemble(&self, id: u64) -> Ensemble {
        let members: Vec<u64> = if self.sc.initial_members.is_empty() {
            (1..=self.sc.nodes).collect()
        } else {
            let mut m = self.sc.initial_members.clone();
            if !m.contains(&id) {
                m.push(id); // a joiner's own zoo.cfg: the members and itself
            }
            m
        };
        let observer = |n: &u64| self.sc.observers.contains(n);
        let participants = members.iter().filter(|n| !observer(n)).map(|n| ServerId(*n));
        let observers = members.iter().filter(|n| observer(n)).map(|n| ServerId(*n));
        Ensemble::new(participants, observers, self.sc.tick_ms)
    }

    /// Node `node` activated configuration `version`: remember who votes in it.
    pub(super) fn reconfigured(&mut self, node: u64, version: keeper_core::Zxid) {
        if self.configs.contains_key(&version) {
            return;
        }
        let Some(ens) = self.nodes[node as usize - 1].node.as_ref().and_then(|n| n.ensemble())
        else {
            return;
        };
        let voters = ens.participants.iter().map(|s| s.0).collect();
        self.configs.insert(version, voters);
    }

    /// The participants of the newest committed configuration (zoo.cfg's until a reconfig
    /// commits): who counts towards a quorum when the checks excuse a service without one.
    /// A configuration only logged (a leader proposed it and lost its quorum; it went
    /// LOOKING with it) decides nothing: the servers that never logged it elect in the one
    /// before (seed 5776 of the random swarm: a reconfig adding node 2 back, logged only by
    /// the isolated leader 3, whose log was then found corrupt, made the checks count
    /// {1, 2, 3} while nodes 1 and 2 were electing among {1, 3}).
    pub(super) fn voters(&self) -> Vec<u64> {
        let committed = self.configs.iter().rev().find(|(v, _)| self.hist.is_committed(**v));
        match committed {
            Some((_, v)) => v.clone(),
            None => (1..=self.sc.nodes)
                .filter(|n| !self.sc.observers.contains(n))
                .filter(|n| {
                    self.sc.initial_members.is_empty() || self.sc.initial_members.contains(n)
                })
                .collect(),
        }
    }

    /// The participants of each configuration newer than every committed one that a server
    /// that is up runs with (one it logged and adopted when it went LOOKING).
    pub(super) fn logged_configs(&self) -> Vec<Vec<u64>> {
        let committed = self.configs.keys().rev().find(|v| self.hist.is_committed(**v));
        self.nodes
            .iter()
            .filter_map(|n| n.node.as_ref()?.ensemble())
            .filter(|e| committed.is_none_or(|c| e.version > c.0))
            .filter(|e| self.configs.contains_key(&keeper_core::Zxid(e.version)))
            .map(|e| e.participants.iter().map(|s| s.0).collect())
            .collect()
    }

    /// Sends `reconfig -add ... -remove ...` on the first client session that is up; it is
    /// recorded in the history as a write (`kind=reconfig`) and judged like any other.
    pub(super) fn reconfig(&mut self, add: &[u64], remove: &[u64]) {
        let up = self.clients.iter().find_map(|c| match c.state {
            ConnState::Up { conn, node } if !c.abandoned => Some((c.id, conn, node)),
            _ => None,
        });
        let Some((client, conn, node)) = up else {
            self.trace.event(self.now, "fault", "reconfig: no session is connected");
            return;
        };
        let spec = |n: &u64| {
            let role = if self.sc.observers.contains(n) { "observer" } else { "participant" };
            format!("server.{n}=10.0.1.{n}:2888:3888:{role};10.0.1.{n}:2181")
        };
        let joining = add.iter().map(spec).collect::<Vec<_>>().join(",");
        let leaving = remove.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let req = Request::Reconfig {
            joining: (!joining.is_empty()).then_some(joining),
            leaving: (!leaving.is_empty()).then_some(leaving),
            new_members: None,
            cur_config_id: -1,
        };
        let c = &mut self.clients[client as usize];
        let xid = c.next_xid;
        c.next_xid += 1;
        let op = self.record_op(client, Some(xid), "reconfig", true, node);
        self.clients[client as usize].pending.insert(xid, op);
        let wall_ms = VIRTUAL_EPOCH_MS + self.now;
        let input = Input::ClientRequest { conn: ConnId(conn), xid: Xid(xid), req, wall_ms };
        self.send_to_node(node, conn, input);
    }

    /// Client `client` stops sending anything, without closing its session.
    pub(super) fn abandon(&mut self, client: u32) {
        let c = &mut self.clients[client as usize];
        c.abandoned = true;
        let (session, last) = (c.session, c.last_sent_ms);
        self.trace.event_args(
            self.now,
            "abandon",
            format_args!("client={client} session={session:#x} last_sent_ms={last}"),
        );
        self.abandoned.push(Abandoned { client, session, last_sent_ms: last, at_ms: self.now });
    }
}

/// A session whose client walked away: it must end by expiry, and not before its timeout
/// has run from the last message the client sent.
#[derive(Clone, Debug)]
pub struct Abandoned {
    pub client: u32,
    pub session: i64,
    pub last_sent_ms: u64,
    pub at_ms: u64,
}

impl Sim {
    /// The `abandoned-sessions-expire` check over this run: faults heal at `healed_ms`.
    pub(super) fn abandoned_sessions_expire(&self, healed_ms: u64) -> crate::check::Verdict {
        let fates: Vec<AbandonedFate> = self
            .abandoned
            .iter()
            .filter(|a| a.session != 0)
            .map(|a| {
                let timeout =
                    u64::try_from(self.clients[a.client as usize].timeout_ms).unwrap_or(0);
                let closed_ms =
                    self.closes.values().find(|(_, s)| *s == a.session).map(|(t, _)| *t);
                let due = self.now >= a.at_ms.max(healed_ms) + timeout + self.sc.expect.liveness_ms;
                // A server told its disk is full expires nothing until space returns.
                let left = (1..=self.sc.nodes)
                    .filter_map(|i| {
                        let core = self.nodes[i as usize - 1].node.as_ref()?;
                        let paths = core.tree().ephemerals(keeper_core::SessionId(a.session));
                        (!core.disk_full()).then_some((i, paths))
                    })
                    .collect();
                AbandonedFate {
                    client: a.client,
                    session: a.session,
                    last_sent_ms: a.last_sent_ms,
                    timeout_ms: timeout,
                    closed_ms,
                    due,
                    left,
                }
            })
            .collect();
        crate::check_faults::abandoned_sessions_expire(&fates)
    }
}
