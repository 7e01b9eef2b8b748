//! Read-only mode (`readonlymode.enabled=true`): a participant cut off from a quorum keeps
//! answering reads for clients that asked for it.
//!
//! As ZooKeeper's `QuorumPeer` does, a node that has been LOOKING for
//! max(2000 ms, tickTime) starts serving read-only; it stops the moment its election
//! decides, closing every read-only connection so those clients go and find a read-write
//! server. While read-only:
//! - only clients whose ConnectRequest carries readOnly=true are accepted (the answer says
//!   readOnly=true); others are dropped without an answer, as ZooKeeper refuses them;
//! - a new session is local to this node (never a transaction) and expires here; a client
//!   that brings a session this node knows from the replicated table is reattached to it
//!   (ZooKeeper 3.4's behaviour; 3.5+ refuse such reconnects, which leaves clients that keep
//!   their session id, kazoo among them, unable to reach a read-only server at all);
//! - reads, watches, pings and auth work; every write, `sync`, `reconfig` and the
//!   closeSession of a replicated session answers NOTREADONLY (ZooKeeper's
//!   `ReadOnlyRequestProcessor`); closing a local session closes it here.
//!
//! Invariant: read-only mode never changes the tree or the replicated session table; the
//! local sessions it adds are removed again when it ends.

use std::collections::BTreeSet;

use super::quorum::Role;
use super::Node;
use crate::error::KeeperError;
use crate::ids::{ConnId, SessionId, Xid};
use crate::output::Mode;
use crate::proto::{ConnectRequest, Request, Response};

/// Where a replicated node stands with read-only mode.
#[derive(Debug, Default)]
pub(super) struct ReadOnly {
    /// The tick at which a LOOKING node starts serving read-only; `None` when it will not.
    pub(super) start_at: Option<u64>,
    /// Serving read-only now.
    pub(super) active: bool,
    /// Sessions created in read-only mode (known to this node only).
    pub(super) local: BTreeSet<SessionId>,
}

impl Node {
    /// True when the node serves read-only clients now.
    pub(super) fn read_only(&self) -> bool {
        self.quorum.as_ref().is_some_and(|q| q.ro.active)
    }

    /// The node starts LOOKING: read-only mode may begin after max(2 s, tickTime).
    pub(super) fn read_only_arm(&mut self) {
        if !self.config.read_only_mode_enabled {
            return;
        }
        let delay_ms = self.config.tick_time_ms.max(2000);
        let at = self.now_tick + delay_ms.div_ceil(self.config.tick_ms);
        self.qm().ro.start_at = Some(at);
    }

    /// A LOOKING node's tick: enter read-only mode when due, expire local sessions.
    pub(super) fn read_only_tick(&mut self) {
        let now = self.now_tick;
        let q = self.q();
        if !matches!(q.role, Role::Looking) {
            return;
        }
        if !q.ro.active && q.ro.start_at.is_some_and(|at| now >= at) {
            self.qm().ro.active = true;
            self.set_mode(Mode::ReadOnly);
        }
        if !self.read_only() {
            return;
        }
        let due: Vec<SessionId> = self
            .q()
            .ro
            .local
            .iter()
            .copied()
            .filter(|id| self.sessions.get(*id).is_none_or(|s| s.deadline_tick <= now))
            .collect();
        for id in due {
            self.drop_local_session(id);
        }
    }

    /// The election decided: read-only mode ends, its clients are dropped (they reconnect
    /// to a read-write server) and its local sessions are forgotten.
    pub(super) fn read_only_leave(&mut self) {
        let Some(q) = self.quorum.as_mut() else { return };
        q.ro.start_at = None;
        if !q.ro.active {
            return;
        }
        q.ro.active = false;
        self.drop_clients();
        let local: Vec<SessionId> = std::mem::take(&mut self.qm().ro.local).into_iter().collect();
        for id in local {
            self.sessions.remove(id);
        }
    }

    /// The handshake of a client while read-only (the caller checked `read_only()`).
    pub(super) fn read_only_connect(&mut self, conn: ConnId, req: ConnectRequest) {
        if req.read_only != Some(true) || req.last_zxid_seen > self.last_zxid {
            // Not a read-only client, or it has seen more than we have: refused unanswered.
            self.close_conn(conn);
            return;
        }
        let timeout_ms = req
            .timeout_ms
            .clamp(self.config.min_session_timeout_ms, self.config.max_session_timeout_ms);
        let id = if req.session_id == SessionId::NONE {
            let id = self.sessions.next_session_id();
            let deadline = self.deadline_for(timeout_ms);
            self.sessions.add(id, timeout_ms, deadline);
            self.qm().ro.local.insert(id);
            self.attach(conn, id, timeout_ms);
            id
        } else {
            if !self.reattach(conn, &req, timeout_ms, Some(true)) {
                return;
            }
            req.session_id
        };
        self.connected(conn, id, timeout_ms, Some(true));
    }

    /// One request of a read-only session (already validated and touched).
    pub(super) fn read_only_request(
        &mut self,
        conn: ConnId,
        xid: Xid,
        session: SessionId,
        req: Request,
        wall_ms: u64,
    ) {
        let local = self.q().ro.local.contains(&session);
        match req {
            Request::CloseSession if local => {
                self.reply(conn, xid, Ok(Response::Empty), Some(wall_ms));
                self.drop_local_session(session);
            }
            req if req.is_write() || matches!(req, Request::Sync { .. }) => {
                self.reply(conn, xid, Err(KeeperError::NotReadOnly), Some(wall_ms));
            }
            req => self.dispatch_request(conn, xid, req, wall_ms),
        }
    }

    /// Ends a local session: its connection closes after what is queued for it.
    fn drop_local_session(&mut self, id: SessionId) {
        self.qm().ro.local.remove(&id);
        if let Some(s) = self.sessions.remove(id) {
            if let Some(conn) = s.conn {
                self.close_conn(conn);
            }
        }
    }
}
