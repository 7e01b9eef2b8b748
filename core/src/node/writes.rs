//! The write path: requests become transactions, are applied, logged and answered.
//!
//! Mirrors ZooKeeper's PrepRequestProcessor → SyncRequestProcessor → FinalRequestProcessor
//! for a standalone server, collapsed into one step whose client-visible results wait for
//! the disk (see the module doc of `node`). Every transaction, including failed writes,
//! session creation and expiry, goes through `commit`, so the tree, the session table, the
//! watches and the log can never disagree about what happened.

use super::Node;
use crate::acl::AuthContext;
use crate::error::KeeperError;
use crate::ids::{ConnId, SessionId, Xid, Zxid};
use crate::output::Output;
use crate::proto::{keeper_state, CreateOp, OpResult, Request, Response, WatchedEvent};
use crate::request::{self, PrepContext};
use crate::tree::TxnResult;
use crate::txn::{Txn, TxnHeader, TxnRecord};

impl Node {
    /// Validates, applies and logs a client write, then answers it behind the disk.
    pub(super) fn submit_write(
        &mut self,
        conn: ConnId,
        xid: Xid,
        session: SessionId,
        req: Request,
        wall_ms: u64,
    ) {
        let zxid = self.next_zxid();
        let time_ms = self.wall_ms.max(wall_ms) as i64;
        let txn = if matches!(req, Request::Reconfig { .. }) {
            let auth = self.conns[&conn].auth.clone();
            self.reconfig_txn(&auth, &req, zxid)
        } else {
            let auth = &self.conns[&conn].auth;
            let ctx = PrepContext { session, auth, config: &self.config, zxid, time_ms };
            request::prepare(&self.tree, &ctx, &req)
        };
        let rec = TxnRecord { header: TxnHeader { session, cxid: xid.0, zxid, time_ms }, txn };
        let result = self.commit(rec);
        let reply = self.reconfig_reply(&req, write_response(&req, result));
        self.emit(Output::Reply { conn, xid, zxid, result: reply }, Some(wall_ms));
    }

    /// Logs, applies and fires the watches of one transaction; returns what apply said.
    /// The Persist is emitted first, so every output caused by the txn waits for it.
    pub(super) fn commit(&mut self, rec: TxnRecord) -> TxnResult {
        assert_eq!(rec.header.zxid, self.last_zxid, "txns are committed in zxid order");
        let seq = self.persist_append(rec.clone());
        if self.quorum.is_some() {
            let committed = self.committed;
            self.qm().remember(&rec, committed);
            self.leader_proposed(&rec, seq);
        } else {
            self.committed = rec.header.zxid;
        }
        self.note_applied(&rec, seq);
        let acls_before = crate::watch::AclsBefore::read(&self.tree, &rec.txn, rec.header.session);
        let applied = self.tree.apply(&rec);
        assert_eq!(self.tree.last_zxid(), rec.header.zxid, "apply advances the tree's zxid");
        let digest = self.tree.digest();
        self.event(crate::output::ProtocolEvent::Applied { zxid: rec.header.zxid, digest });
        match &rec.txn {
            Txn::CreateSession { timeout_ms } => {
                let deadline = self.deadline_for(*timeout_ms);
                self.sessions.add(rec.header.session, *timeout_ms, deadline);
            }
            Txn::CloseSession => {
                self.sessions.remove(rec.header.session);
            }
            _ => {}
        }
        if self.txns_since_snapshot >= self.snapshot_after {
            self.take_snapshot();
        }
        self.fire_watches(&applied.changes, &acls_before, rec.header.zxid);
        applied.result
    }

    /// Fires the watches `changes` trigger, each event only to a connection that may read
    /// the node (by the ACLs from before the transaction, ZOOKEEPER-4799). Shared by the
    /// standalone commit and the replicated apply.
    pub(super) fn fire_watches(
        &mut self,
        changes: &[crate::tree::Change],
        acls_before: &crate::watch::AclsBefore,
        zxid: Zxid,
    ) {
        for change in changes {
            for fired in self.watches.fire(change) {
                let Some(c) = self.conns.get(&fired.conn) else { continue };
                if !acls_before.may_read(&self.tree, &fired, &c.auth, self.config.skip_acl) {
                    continue;
                }
                let event = WatchedEvent {
                    event_type: fired.event_type,
                    state: keeper_state::SYNC_CONNECTED,
                    path: fired.path,
                };
                self.emit(Output::Watch { conn: fired.conn, zxid, event }, None);
            }
        }
    }

    /// A new global session: a createSession transaction.
    pub(super) fn create_session(&mut self, id: SessionId, timeout_ms: i32) {
        let zxid = self.next_zxid();
        let time_ms = self.wall_ms as i64;
        let rec = TxnRecord {
            header: TxnHeader { session: id, cxid: 0, zxid, time_ms },
            txn: Txn::CreateSession { timeout_ms },
        };
        self.commit(rec);
    }

    /// closeSession from the client: delete its ephemerals, answer, close the connection.
    pub(super) fn on_close_session(
        &mut self,
        conn: ConnId,
        xid: Xid,
        session: SessionId,
        wall_ms: u64,
    ) {
        if let Some(s) = self.sessions.get_mut(session) {
            s.closing = true;
        }
        let zxid = self.next_zxid();
        let time_ms = self.wall_ms.max(wall_ms) as i64;
        let rec = TxnRecord {
            header: TxnHeader { session, cxid: xid.0, zxid, time_ms },
            txn: Txn::CloseSession,
        };
        self.commit(rec);
        self.emit(Output::Reply { conn, xid, zxid, result: Ok(Response::Empty) }, Some(wall_ms));
        self.close_conn(conn);
    }

    /// The session's deadline passed: a closeSession transaction, and its connection goes.
    pub(super) fn expire_session(&mut self, id: SessionId) {
        let conn = self.sessions.get(id).and_then(|s| s.conn);
        let zxid = self.next_zxid();
        let time_ms = self.wall_ms as i64;
        let rec = TxnRecord {
            header: TxnHeader { session: id, cxid: 0, zxid, time_ms },
            txn: Txn::CloseSession,
        };
        self.commit(rec);
        if let Some(conn) = conn {
            self.close_conn(conn);
        }
    }

    /// Deletes empty containers and expired TTL nodes (ZooKeeper's ContainerManager), as
    /// deleteContainer transactions from no session, revalidated by `prepare`.
    pub(super) fn reap_containers(&mut self) {
        let per_check = (self.config.container_max_per_minute as u64
            * self.config.container_check_interval_ms
            / 60_000)
            .max(1) as usize;
        let candidates = self.tree.container_candidates(self.wall_ms as i64, per_check);
        let internal = AuthContext { ids: Vec::new(), is_super: true };
        for path in candidates {
            let req = Request::DeleteContainer { path };
            let zxid = Zxid(self.last_zxid.0 + 1);
            let time_ms = self.wall_ms as i64;
            let ctx = PrepContext {
                session: SessionId::NONE,
                auth: &internal,
                config: &self.config,
                zxid,
                time_ms,
            };
            let txn = request::prepare(&self.tree, &ctx, &req);
            if matches!(txn, Txn::Error { .. }) {
                continue; // no longer a candidate; nothing to log
            }
            let zxid = self.next_zxid();
            let rec = TxnRecord {
                header: TxnHeader { session: SessionId::NONE, cxid: 0, zxid, time_ms },
                txn,
            };
            self.commit(rec);
        }
    }
}

/// Builds the reply for a write from what applying its transaction did.
pub(super) fn write_response(req: &Request, result: TxnResult) -> Result<Response, KeeperError> {
    match (req, result) {
        (_, TxnResult::Error { err }) => Err(code_to_error(err)),
        (Request::Create(c), TxnResult::Created { path, stat }) => Ok(match c.op {
            CreateOp::Create => Response::Create { path },
            _ => Response::Create2 { path, stat },
        }),
        (Request::Multi(ops), TxnResult::Multi(results)) => Ok(Response::Multi(
            ops.iter().zip(results).map(|(op, r)| multi_result(op, r)).collect(),
        )),
        (_, TxnResult::DataSet { stat }) | (_, TxnResult::AclSet { stat }) => {
            Ok(Response::Stat(stat))
        }
        (_, TxnResult::Deleted) | (_, TxnResult::Checked) => Ok(Response::Empty),
        (_, TxnResult::SessionClosed) | (_, TxnResult::SessionCreated) => Ok(Response::Empty),
        (_, other) => {
            debug_assert!(false, "unexpected result {other:?} for {req:?}");
            Err(KeeperError::SystemError)
        }
    }
}

fn multi_result(op: &Request, r: TxnResult) -> OpResult {
    match r {
        // ZooKeeper re-derives a create sub-op's opcode from its flags (container → 19,
        // TTL → 21, otherwise 1), so even a create2 sub-op answers a plain CreateResult.
        TxnResult::Created { path, stat } => match op {
            Request::Create(c) if matches!(c.flags, 4..=6) => OpResult::Create2 { path, stat },
            _ => OpResult::Create { path },
        },
        TxnResult::Deleted => OpResult::Delete,
        TxnResult::DataSet { stat } => OpResult::SetData { stat },
        TxnResult::Checked => OpResult::Check,
        TxnResult::Error { err } => OpResult::Error { err },
        other => {
            debug_assert!(false, "unexpected multi sub-result {other:?}");
            OpResult::Error { err: KeeperError::SystemError.code() }
        }
    }
}

fn code_to_error(err: i32) -> KeeperError {
    KeeperError::from_code(err).unwrap_or(KeeperError::SystemError)
}
