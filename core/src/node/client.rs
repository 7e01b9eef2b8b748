//! Client connections: the handshake, request dispatch, reads, watches and auth.
//!
//! Follows ZooKeeper's `ZooKeeperServer.processConnectRequest`, `processPacket` and
//! `FinalRequestProcessor`: every request touches its session; writes go to `writes.rs`;
//! reads are answered from the tree and their watches registered at the moment they
//! execute, so a watch set by a read always sees the changes that follow it.

use bytes::Bytes;

use super::{Conn, Node, Phase};
use crate::acl::{self, AuthContext};
use crate::error::KeeperError;
use crate::ids::{ConnId, SessionId, Xid};
use crate::proto::{
    op, AddWatchMode, ClientInfo, ConnectRequest, ConnectResponse, EventType, Id, Request,
    Response, WatchedEvent, WatcherType,
};
use crate::request;
use crate::session;
use crate::watch::WatchKind;

impl Node {
    pub(super) fn on_client_open(&mut self, conn: ConnId, addr: String) {
        let limit = self.config.max_client_cnxns as usize;
        let ip = ip_of(&addr);
        let same_ip = self.conns.values().filter(|c| ip_of(&c.addr) == ip).count();
        let ip_id = Id::new("ip", &ip);
        self.conns.insert(
            conn,
            Conn {
                addr,
                phase: Phase::AwaitConnect,
                session: None,
                auth: AuthContext { ids: vec![ip_id], is_super: false },
                timeout_ms: 0,
                received: 0,
                sent: 0,
                last_op: "NA",
                last_cxid: -1,
                last_zxid: self.last_zxid,
                established_ms: self.wall_ms,
                last_response_ms: 0,
                latency_min_ms: 0,
                latency_max_ms: 0,
                latency_total_ms: 0,
                latency_count: 0,
                sasl: None,
                with_leader: 0,
                syncs_with_leader: 0,
                queued: Default::default(),
                held: 0,
            },
        );
        if limit > 0 && same_ip >= limit {
            // ZooKeeper drops the connection without a word ("Too many connections").
            self.close_conn(conn);
        }
    }

    pub(super) fn on_client_closed(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            self.watches.remove_conn(conn);
            if let Some(id) = c.session {
                if let Some(s) = self.sessions.get_mut(id) {
                    if s.conn == Some(conn) {
                        s.conn = None;
                    }
                }
            }
        }
    }

    /// Closes a connection after everything already queued for it.
    pub(super) fn close_conn(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if c.phase == Phase::Closing {
            return;
        }
        c.phase = Phase::Closing;
        self.watches.remove_conn(conn);
        self.emit(crate::output::Output::Close { conn }, None);
    }

    pub(super) fn on_client_connect(&mut self, conn: ConnId, req: ConnectRequest) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if c.phase != Phase::AwaitConnect {
            self.close_conn(conn);
            return;
        }
        c.received += 1;
        self.stats.packets_received += 1;
        if self.read_only() {
            self.read_only_connect(conn, req);
            return;
        }
        if !self.serving() {
            // Not serving (looking for a leader, or syncing): ZooKeeper drops the client.
            self.close_conn(conn);
            return;
        }
        if req.last_zxid_seen > self.last_zxid {
            // The client has seen a newer state than ours: it must try another server.
            self.close_conn(conn);
            return;
        }
        let timeout_ms = req
            .timeout_ms
            .clamp(self.config.min_session_timeout_ms, self.config.max_session_timeout_ms);
        let read_only = req.read_only.map(|_| false);
        if req.session_id == SessionId::NONE && !self.makes_txns() {
            self.learner_new_session(conn, timeout_ms);
            return;
        }
        if req.session_id == SessionId::NONE && self.disk_full {
            // A new session is a transaction: refuse it like a server that is not serving.
            self.close_conn(conn);
            return;
        }
        if req.session_id == SessionId::NONE {
            let id = self.sessions.next_session_id();
            self.create_session(id, timeout_ms);
            self.attach(conn, id, timeout_ms);
            self.connected(conn, id, timeout_ms, read_only);
            return;
        }
        if !self.reattach(conn, &req, timeout_ms, read_only) {
            return;
        }
        if !self.makes_txns() {
            self.learner_touch(req.session_id);
        }
        self.connected(conn, req.session_id, timeout_ms, read_only);
    }

    /// Answers a handshake: session `id` with its password and the granted timeout.
    pub(super) fn connected(
        &mut self,
        conn: ConnId,
        id: SessionId,
        timeout_ms: i32,
        read_only: Option<bool>,
    ) {
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id: id,
            passwd: Bytes::copy_from_slice(&session::password(id)),
            read_only,
        };
        self.emit(crate::output::Output::Connected { conn, resp }, None);
    }

    /// Moves the session a handshake names onto `conn` (closing any other connection that
    /// holds it, as ZooKeeper does) and refreshes its deadline. An unknown, closing or
    /// wrongly authenticated session gets ZooKeeper's expired answer (timeout 0, session
    /// 0) and the connection is closed; returns false then.
    pub(super) fn reattach(
        &mut self,
        conn: ConnId,
        req: &ConnectRequest,
        timeout_ms: i32,
        read_only: Option<bool>,
    ) -> bool {
        let valid = self.sessions.get(req.session_id).is_some_and(|s| !s.closing)
            && req.passwd.as_ref() == session::password(req.session_id);
        if !valid {
            let resp = ConnectResponse {
                protocol_version: 0,
                timeout_ms: 0,
                session_id: SessionId::NONE,
                passwd: Bytes::from_static(&[0; 16]),
                read_only,
            };
            self.emit(crate::output::Output::Connected { conn, resp }, None);
            self.close_conn(conn);
            return false;
        }
        let previous = self.sessions.get(req.session_id).and_then(|s| s.conn);
        if let Some(old) = previous.filter(|old| *old != conn) {
            self.close_conn(old);
        }
        self.attach(conn, req.session_id, timeout_ms);
        let deadline = self.deadline_for(timeout_ms);
        self.sessions.touch(req.session_id, deadline);
        true
    }

    pub(super) fn attach(&mut self, conn: ConnId, id: SessionId, timeout_ms: i32) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.phase = Phase::Open;
            c.session = Some(id);
            c.timeout_ms = timeout_ms;
            c.established_ms = self.wall_ms;
        }
        if let Some(s) = self.sessions.get_mut(id) {
            s.conn = Some(conn);
        }
    }

    pub(super) fn on_bad_request(&mut self, conn: ConnId, xid: Xid, op_code: i32) {
        let Some(c) = self.conns.get(&conn) else { return };
        if c.phase != Phase::Open {
            self.close_conn(conn);
            return;
        }
        // A known opcode whose body did not decode is a marshalling error; an unknown one
        // is UNIMPLEMENTED. Either way ZooKeeper answers and closes the connection.
        let known = is_client_op(op_code);
        let err = if known { KeeperError::MarshallingError } else { KeeperError::Unimplemented };
        self.reply(conn, xid, Err(err), None);
        self.close_conn(conn);
    }

    pub(super) fn on_client_request(&mut self, conn: ConnId, xid: Xid, req: Request, wall_ms: u64) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if c.phase != Phase::Open {
            if c.phase == Phase::AwaitConnect {
                self.close_conn(conn);
            }
            return;
        }
        c.received += 1;
        c.last_op = op_name(&req);
        if xid.0 >= 0 {
            c.last_cxid = xid.0;
        }
        self.stats.packets_received += 1;
        let session = c.session.expect("open connections have a session");
        let timeout_ms = c.timeout_ms;
        match self.sessions.get(session) {
            Some(s) if s.conn == Some(conn) && !s.closing => {}
            Some(s) if !s.closing => {
                // The session now lives on another connection.
                self.reply(conn, xid, Err(KeeperError::SessionMoved), Some(wall_ms));
                self.close_conn(conn);
                return;
            }
            _ => {
                self.reply(conn, xid, Err(KeeperError::SessionExpired), Some(wall_ms));
                self.close_conn(conn);
                return;
            }
        }
        let deadline = self.deadline_for(timeout_ms);
        self.sessions.touch(session, deadline);
        if self.read_only() {
            self.read_only_request(conn, xid, session, req, wall_ms);
            return;
        }
        if !self.makes_txns() {
            self.learner_touch(session);
            // A learner answers a connection in order: nothing overtakes a request that is
            // with the leader, and nothing overtakes what already waits behind one.
            let c = self.conns.get_mut(&conn).expect("checked above");
            let to_leader = super::learner::goes_to_leader(&req);
            if !c.queued.is_empty() || c.syncs_with_leader > 0 || (c.with_leader > 0 && !to_leader)
            {
                c.queued.push_back((xid, req, wall_ms));
                return;
            }
        }
        self.dispatch_request(conn, xid, req, wall_ms);
    }

    /// Runs one validated request of an open connection.
    pub(super) fn dispatch_request(&mut self, conn: ConnId, xid: Xid, req: Request, wall_ms: u64) {
        let Some(session) = self.conns.get(&conn).and_then(|c| c.session) else { return };
        let arrived = Some(wall_ms);
        let reconfig_here = matches!(req, Request::Reconfig { .. })
            && (!self.config.reconfig_enabled || self.quorum.is_none());
        if !self.makes_txns() && super::learner::goes_to_leader(&req) && !reconfig_here {
            self.learner_request(conn, xid, session, req, wall_ms);
            return;
        }
        match req {
            Request::Ping if self.may_answer_early(conn, &Request::Ping, &Ok(Response::Empty)) => {
                self.answer_early(conn, xid, Ok(Response::Empty), arrived)
            }
            Request::Ping => self.reply(conn, xid, Ok(Response::Empty), arrived),
            Request::Auth { scheme, auth, .. } => self.on_auth(conn, xid, &scheme, &auth),
            Request::Sasl { token } => self.on_sasl(conn, xid, &token, arrived),
            Request::Check { .. } => {
                // ZOOKEEPER-2623: a lone check is rejected and the connection closed.
                self.reply(conn, xid, Err(KeeperError::Unimplemented), arrived);
                self.close_conn(conn);
            }
            Request::Reconfig { .. } if !self.config.reconfig_enabled || self.quorum.is_none() => {
                let err = if self.config.reconfig_enabled {
                    KeeperError::Unimplemented // a standalone server cannot reconfigure
                } else {
                    KeeperError::ReconfigDisabled
                };
                self.reply(conn, xid, Err(err), arrived);
            }
            Request::CloseSession if self.disk_full => self.refuse_close_session(conn, xid),
            Request::CloseSession => {
                if self.can_propose() {
                    self.on_close_session(conn, xid, session, wall_ms)
                }
            }
            Request::Sync { path } => {
                let result = crate::path::validate(&path).map(|_| Response::Sync { path });
                self.reply(conn, xid, result, arrived);
            }
            Request::SetWatches(sw) => {
                let crate::proto::SetWatches {
                    relative_zxid,
                    data,
                    exist,
                    child,
                    persistent,
                    persistent_recursive,
                    ..
                } = *sw;
                let mut all = self.on_set_watches(conn, relative_zxid, &data, &exist, &child);
                for p in persistent {
                    all &= self.watches.add(conn, WatchKind::Persistent, &p);
                }
                for p in persistent_recursive {
                    all &= self.watches.add(conn, WatchKind::PersistentRecursive, &p);
                }
                // Past maxWatchBytesPerSession: the watches that fit are armed, and the
                // client hears that some are not.
                let result =
                    if all { Ok(Response::Empty) } else { Err(KeeperError::QuotaExceeded) };
                self.reply(conn, xid, result, arrived);
            }
            Request::AddWatch { path, mode } => {
                let result = crate::path::validate(&path).and_then(|_| {
                    let kind = match mode {
                        m if m == AddWatchMode::Persistent as i32 => WatchKind::Persistent,
                        m if m == AddWatchMode::PersistentRecursive as i32 => {
                            WatchKind::PersistentRecursive
                        }
                        _ => return Err(KeeperError::BadArguments),
                    };
                    if !self.watches.add(conn, kind, &path) {
                        return Err(KeeperError::QuotaExceeded);
                    }
                    Ok(Response::AddWatch)
                });
                self.reply(conn, xid, result, arrived);
            }
            Request::CheckWatches { path, watcher_type } => {
                self.on_watch_query(conn, xid, &path, watcher_type, false, arrived)
            }
            Request::RemoveWatches { path, watcher_type } => {
                self.on_watch_query(conn, xid, &path, watcher_type, true, arrived)
            }
            Request::GetEphemerals { prefix } => {
                let all = prefix.is_empty() || prefix == "/";
                let paths: Vec<String> = self
                    .tree
                    .ephemerals(session)
                    .into_iter()
                    .filter(|p| all || p.starts_with(&prefix))
                    .collect();
                self.reply(conn, xid, Ok(Response::GetEphemerals { paths }), arrived);
            }
            Request::WhoAmI => {
                let infos = self.conns[&conn]
                    .auth
                    .ids
                    .iter()
                    .map(|id| {
                        // The provider's user name: for digest the part before the colon,
                        // as ZooKeeper's DigestAuthenticationProvider.getUserName returns.
                        let user = match id.scheme.as_str() {
                            "digest" => id.id.split(':').next().unwrap_or_default().to_string(),
                            _ => id.id.clone(),
                        };
                        ClientInfo { auth_scheme: id.scheme.clone(), user }
                    })
                    .collect();
                self.reply(conn, xid, Ok(Response::WhoAmI(infos)), arrived);
            }
            req if req.is_write() && self.disk_full => {
                self.reply(conn, xid, Err(KeeperError::NotReadOnly), arrived)
            }
            req if req.is_write() => {
                if self.can_propose() {
                    self.submit_write(conn, xid, session, req, wall_ms)
                }
            }
            req => self.on_read(conn, xid, req, arrived),
        }
    }

    fn on_read(&mut self, conn: ConnId, xid: Xid, req: Request, arrived: Option<u64>) {
        let auth = &self.conns[&conn].auth;
        let mut result = request::read(&self.tree, auth, &self.config, &req);
        let watch = match &req {
            Request::Exists { path, watch: true } => match &result {
                Ok(_) | Err(KeeperError::NoNode) => Some((WatchKind::Data, path)),
                _ => None,
            },
            Request::GetData { path, watch: true } if result.is_ok() => {
                Some((WatchKind::Data, path))
            }
            Request::GetChildren { path, watch: true }
            | Request::GetChildren2 { path, watch: true }
                if result.is_ok() =>
            {
                Some((WatchKind::Child, path))
            }
            _ => None,
        };
        if let Some((kind, path)) = watch {
            if !self.watches.add(conn, kind, path) {
                // Past maxWatchBytesPerSession: no watch, and the client is told so.
                result = Err(KeeperError::QuotaExceeded);
            }
        }
        let result = self.static_config_read(&req, result);
        if self.may_answer_early(conn, &req, &result) {
            self.answer_early(conn, xid, result, arrived);
        } else {
            self.reply(conn, xid, result, arrived);
        }
    }

    fn on_watch_query(
        &mut self,
        conn: ConnId,
        xid: Xid,
        path: &str,
        watcher_type: i32,
        remove: bool,
        arrived: Option<u64>,
    ) {
        let result = match WatcherType::from_code(watcher_type) {
            None => Err(KeeperError::BadArguments),
            Some(wt) => {
                if self.watches.matching(conn, path, wt, remove).is_empty() {
                    Err(KeeperError::NoWatcher)
                } else {
                    Ok(Response::Empty)
                }
            }
        };
        self.reply(conn, xid, result, arrived);
    }

    /// Re-arms watches after a reconnect, firing at once for what changed while the client
    /// was away (ZooKeeper's `DataTree.setWatches`). False when some did not fit the
    /// connection's watch bound.
    fn on_set_watches(
        &mut self,
        conn: ConnId,
        relative: crate::ids::Zxid,
        data: &[String],
        exist: &[String],
        child: &[String],
    ) -> bool {
        let rel = relative.as_i64();
        let mut all = true;
        let mut fire = Vec::new();
        // Stricter than ZooKeeper, which fires these catch-up events unchecked: on a node
        // the client may not read, the watch is armed (its later events are filtered like
        // any other) but nothing is fired now, so mzxid and pzxid do not leak.
        let auth = self.conns.get(&conn).map(|c| c.auth.clone()).unwrap_or_default();
        let skip_acl = self.config.skip_acl;
        let hidden = |n: &crate::tree::NodeView<'_>| {
            !crate::acl::check(n.acl, &auth, crate::proto::perms::READ, skip_acl)
        };
        for p in data {
            match self.tree.get(p) {
                None => fire.push((EventType::NodeDeleted, p.clone())),
                Some(n) if n.stat.mzxid > rel && !hidden(&n) => {
                    fire.push((EventType::NodeDataChanged, p.clone()))
                }
                Some(_) => all &= self.watches.add(conn, WatchKind::Data, p),
            }
        }
        for p in exist {
            match self.tree.get(p) {
                Some(n) if !hidden(&n) => fire.push((EventType::NodeCreated, p.clone())),
                _ => all &= self.watches.add(conn, WatchKind::Data, p),
            }
        }
        for p in child {
            match self.tree.get(p) {
                None => fire.push((EventType::NodeDeleted, p.clone())),
                Some(n) if n.stat.pzxid > rel && !hidden(&n) => {
                    fire.push((EventType::NodeChildrenChanged, p.clone()))
                }
                Some(_) => all &= self.watches.add(conn, WatchKind::Child, p),
            }
        }
        for (event_type, path) in fire {
            let event = WatchedEvent {
                event_type,
                state: crate::proto::keeper_state::SYNC_CONNECTED,
                path,
            };
            self.emit(crate::output::Output::Watch { conn, zxid: self.last_zxid, event }, None);
        }
        all
    }

    fn on_auth(&mut self, conn: ConnId, xid: Xid, scheme: &str, auth: &[u8]) {
        let added = match scheme {
            "digest" => {
                let text = String::from_utf8_lossy(auth).into_owned();
                let digest = acl::digest(&text);
                let is_super = self.config.super_digest.as_deref() == Some(digest.as_str());
                Some((Id::new("digest", &digest), is_super))
            }
            "ip" => {
                let ip = ip_of(&self.conns[&conn].addr);
                Some((Id::new("ip", &ip), false))
            }
            _ => None,
        };
        match added {
            Some((id, is_super)) => {
                let c = self.conns.get_mut(&conn).expect("checked by caller");
                if is_super {
                    c.auth.is_super = true;
                    let sup = Id::new("super", "");
                    if !c.auth.ids.contains(&sup) {
                        c.auth.ids.push(sup);
                    }
                }
                if !c.auth.ids.contains(&id) {
                    c.auth.ids.push(id);
                }
                self.emit_reply_zxid0(conn, xid, Ok(Response::Empty));
            }
            None => {
                self.emit_reply_zxid0(conn, xid, Err(KeeperError::AuthFailed));
                self.close_conn(conn);
            }
        }
    }

    /// One step of a SASL DIGEST-MD5 exchange (op 102). Without configured users, or when
    /// the client's proof is wrong, the answer is AUTHFAILED and the connection closes, as
    /// ZooKeeper drops connections that fail SASL.
    fn on_sasl(&mut self, conn: ConnId, xid: Xid, token: &[u8], arrived: Option<u64>) {
        use crate::sasl::{DigestMd5Server, SaslStep};
        if self.config.sasl_users.is_empty() {
            self.reply(conn, xid, Err(KeeperError::AuthFailed), arrived);
            self.close_conn(conn);
            return;
        }
        let nonce = {
            let mut bytes = [0u8; 16];
            rand::Rng::fill_bytes(&mut self.rng, &mut bytes);
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let users = self.config.sasl_users.clone();
        let c = self.conns.get_mut(&conn).expect("checked by caller");
        let exchange = c.sasl.get_or_insert_with(|| Box::new(DigestMd5Server::new(users, nonce)));
        match exchange.step(token) {
            SaslStep::Challenge(t) => {
                self.reply(conn, xid, Ok(Response::Sasl { token: Bytes::from(t) }), arrived);
            }
            SaslStep::Success { token, user } => {
                c.sasl = None;
                let id = Id::new("sasl", &user);
                if !c.auth.ids.contains(&id) {
                    c.auth.ids.push(id);
                }
                self.reply(conn, xid, Ok(Response::Sasl { token: Bytes::from(token) }), arrived);
            }
            SaslStep::Failure => {
                c.sasl = None;
                self.reply(conn, xid, Err(KeeperError::AuthFailed), arrived);
                self.close_conn(conn);
            }
        }
    }

    /// Auth replies carry zxid 0, as ZooKeeper sends them.
    fn emit_reply_zxid0(&mut self, conn: ConnId, xid: Xid, result: crate::proto::ReplyResult) {
        let zxid = crate::ids::Zxid::ZERO;
        self.emit(crate::output::Output::Reply { conn, xid, zxid, result }, None);
    }

    /// Answers a request with the last applied zxid.
    pub(super) fn reply(
        &mut self,
        conn: ConnId,
        xid: Xid,
        result: crate::proto::ReplyResult,
        arrived: Option<u64>,
    ) {
        let zxid = self.last_zxid;
        self.emit(crate::output::Output::Reply { conn, xid, zxid, result }, arrived);
    }
}

/// The IP part of a peer address given as `ip:port`, `[v6]:port` or a bare IP.
fn ip_of(addr: &str) -> String {
    match addr.parse::<std::net::SocketAddr>() {
        Ok(sa) => sa.ip().to_string(),
        Err(_) => addr.to_string(),
    }
}

/// True for every opcode ZooKeeper accepts from a client (`Request.isValid`).
fn is_client_op(code: i32) -> bool {
    matches!(code, 1..=9 | 11..=22 | 100..=107 | op::CLOSE_SESSION)
}

/// ZooKeeper's short names for `cons`'s `lop=` field.
fn op_name(req: &Request) -> &'static str {
    match req {
        Request::Create(_) => "CREA",
        Request::Delete { .. } => "DELE",
        Request::Exists { .. } => "EXIS",
        Request::GetData { .. } => "GETD",
        Request::SetData { .. } => "SETD",
        Request::GetAcl { .. } => "GETA",
        Request::SetAcl { .. } => "SETA",
        Request::GetChildren { .. } => "GETC",
        Request::Sync { .. } => "SYNC",
        Request::Ping => "PING",
        Request::GetChildren2 { .. } => "GETC",
        Request::Check { .. } => "CHEC",
        Request::Multi(_) => "MULT",
        Request::Reconfig { .. } => "RCFG",
        Request::CheckWatches { .. } => "CHKW",
        Request::RemoveWatches { .. } => "REMW",
        Request::DeleteContainer { .. } => "DELC",
        Request::MultiRead(_) => "MLTR",
        Request::Auth { .. } => "AUTH",
        Request::SetWatches(_) => "SETW",
        Request::Sasl { .. } => "SASL",
        Request::GetEphemerals { .. } => "GETE",
        Request::GetAllChildrenNumber { .. } => "GETACN",
        Request::AddWatch { .. } => "ADDW",
        Request::WhoAmI => "HOMI",
        Request::CloseSession => "CLOS",
    }
}
