//! The client side of the engine: handshakes, pings, the workload's requests, and what
//! clients do with the outputs that reach them, each recorded in the run's history.
//!
//! Invariant: every op in the history is completed at most once, by its reply or by the
//! loss of the connection it was sent on; a reply on a connection the client has given up
//! is ignored, as a real client ignores a closed socket.

use keeper_core::proto::{ConnectRequest, Request, Response};
use keeper_core::{ConnId, Input, Output, SessionId, Xid};

use super::{between, Event, Sim, RECONNECT_MS, VIRTUAL_EPOCH_MS};
use crate::check::{Op, Seen, CONNECTION_LOSS};
use crate::client::ConnState;

impl Sim {
    /// Records that `client` invoked an operation (`xid` is `None` for a connect) on `node`
    /// now, with its trace line; returns its index in the history.
    pub(super) fn record_op(
        &mut self,
        client: u32,
        xid: Option<i32>,
        kind: &'static str,
        is_write: bool,
        node: u64,
    ) -> usize {
        let session = self.clients[client as usize].session;
        let op = self.history.len();
        self.history.push(Op {
            client,
            session,
            xid: xid.unwrap_or(0),
            kind,
            is_write,
            node,
            invoke_ms: self.now,
            complete_ms: None,
            err: None,
            zxid: None,
        });
        // Hashed as words (one op per client request: this is a hot event).
        let k = crate::trace::mix_bytes(0, kind.as_bytes());
        match xid {
            Some(xid) => self.trace.record(
                self.now,
                "op",
                &[op as u64, u64::from(client), xid as u64, k, node],
                format_args!("op={op} client={client} xid={xid} kind={kind} node={node}"),
            ),
            None => self.trace.record(
                self.now,
                "op",
                &[op as u64, u64::from(client), u64::MAX, k, node],
                format_args!("op={op} client={client} kind={kind} node={node}"),
            ),
        }
        op
    }

    pub(super) fn client_connect(&mut self, client: u32) {
        let c = &mut self.clients[client as usize];
        if c.state != ConnState::Down || c.abandoned {
            return;
        }
        // As ZooKeeper's client: a server from the connect string at random (a dead one
        // resets the connection and the client tries again).
        let nodes = self.sc.nodes;
        let node = if nodes > 1 { between(&mut c.rng, 1, nodes) } else { 1 };
        let conn = self.next_conn;
        self.next_conn += 1;
        c.state = ConnState::Connecting { conn, node };
        self.conns.insert(conn, client);
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: c.last_zxid,
            timeout_ms: self.sc.session_timeout_ms,
            session_id: SessionId(c.session),
            passwd: c.passwd.clone(),
            read_only: Some(false),
        };
        c.connect_op = Some(self.history.len());
        self.record_op(client, None, "connect", false, node);
        let addr = format!("10.0.0.{}", client + 1);
        self.send_to_node(node, conn, Input::ClientOpen { conn: ConnId(conn), addr });
        self.send_to_node(node, conn, Input::ClientConnect { conn: ConnId(conn), req });
        // As ZooKeeper's client: connectTimeout = sessionTimeout / number of servers.
        let timeout = (self.sc.session_timeout_ms.max(1) as u64 / self.sc.nodes).max(1);
        self.schedule(self.now + timeout, Event::ConnectTimeout { client, conn });
    }

    pub(super) fn connect_timeout(&mut self, client: u32, conn: u64) {
        let c = &self.clients[client as usize];
        if let ConnState::Connecting { conn: k, node } = c.state {
            if k == conn {
                // The client closes its socket; the server sees the close if it is up.
                self.send_to_node(node, conn, Input::ClientClosed { conn: ConnId(conn) });
                self.client_recv(client, conn, Output::Close { conn: ConnId(conn) });
            }
        }
    }

    /// Pings every third of the session timeout while the connection is up (the Java client
    /// pings after readTimeout/2 of silence, readTimeout being 2/3 of the session timeout).
    pub(super) fn client_ping(&mut self, client: u32, conn: u64) {
        let c = &self.clients[client as usize];
        let ConnState::Up { conn: k, node } = c.state else { return };
        if k != conn || c.abandoned {
            return;
        }
        let input = Input::ClientRequest {
            conn: ConnId(conn),
            xid: Xid::PING,
            req: Request::Ping,
            wall_ms: VIRTUAL_EPOCH_MS + self.now,
        };
        self.send_to_node(node, conn, input);
        self.schedule_ping(client, conn);
    }

    pub(super) fn schedule_ping(&mut self, client: u32, conn: u64) {
        // The negotiated timeout, as the Java client uses: the server may grant less than
        // asked (at most 20 ticks by default), and pinging on the asked-for timeout would
        // let an idle session expire.
        let negotiated = self.clients[client as usize].timeout_ms;
        let timeout = if negotiated > 0 { negotiated } else { self.sc.session_timeout_ms };
        let every = (timeout.max(3) as u64) / 3;
        self.schedule(self.now + every, Event::ClientPing { client, conn });
    }

    pub(super) fn client_op(&mut self, client: u32) {
        let weights = self.sc.workload.mix.weights();
        let c = &mut self.clients[client as usize];
        let ConnState::Up { conn, node } = c.state else {
            return; // the next op is scheduled again when the session is back up.
        };
        if c.abandoned {
            return;
        }
        let (kind, req) = c.next_request(&weights);
        let xid = c.next_xid;
        c.next_xid += 1;
        let op = self.record_op(client, Some(xid), kind, req.is_write(), node);
        self.clients[client as usize].pending.insert(xid, op);
        let input = Input::ClientRequest {
            conn: ConnId(conn),
            xid: Xid(xid),
            req,
            wall_ms: VIRTUAL_EPOCH_MS + self.now,
        };
        self.send_to_node(node, conn, input);
        self.schedule_client_op(client);
    }

    pub(super) fn schedule_client_op(&mut self, client: u32) {
        let w = &self.sc.workload;
        let per_client = (w.ops_per_sec / w.clients.max(1)).max(1);
        let mean = 1000 / u64::from(per_client);
        let c = &mut self.clients[client as usize];
        let gap = between(&mut c.rng, mean / 2, mean + mean / 2).max(1);
        self.schedule(self.now + gap, Event::ClientOp { client });
    }

    pub(super) fn client_recv(&mut self, client: u32, conn: u64, out: Output) {
        let now = self.now;
        let c = &mut self.clients[client as usize];
        let current = match c.state {
            ConnState::Up { conn: k, .. } | ConnState::Connecting { conn: k, .. } => k == conn,
            ConnState::Down => false,
        };
        if !current {
            return;
        }
        match out {
            Output::Connected { resp, .. } => {
                let op = c.connect_op.take();
                let ok = resp.session_id.0 != 0;
                if let Some(i) = op {
                    let h = &mut self.history[i];
                    h.complete_ms = Some(now);
                    h.err = Some(if ok { 0 } else { -112 }); // -112: SessionExpired
                    h.session = resp.session_id.0;
                    let (err, session) = (h.err.unwrap_or(0), h.session);
                    self.trace.event_args(
                        now,
                        "done",
                        format_args!("op={i} err={err} session={session:#x}"),
                    );
                }
                let ConnState::Connecting { node, .. } = c.state else { return };
                if !ok {
                    // Expired: start a fresh session next time.
                    c.session = 0;
                    c.watches.clear();
                    return;
                }
                c.session = resp.session_id.0;
                c.passwd = resp.passwd.clone();
                c.timeout_ms = resp.timeout_ms;
                c.state = ConnState::Up { conn, node };
                c.rewatching = !c.watches.is_empty();
                if !c.watches.is_empty() {
                    let req = Request::SetWatches(Box::new(keeper_core::proto::SetWatches {
                        relative_zxid: c.last_zxid,
                        data: c.watches.clone(),
                        exist: Vec::new(),
                        child: Vec::new(),
                        persistent: Vec::new(),
                        persistent_recursive: Vec::new(),
                        v2: false,
                    }));
                    let input = Input::ClientRequest {
                        conn: ConnId(conn),
                        xid: Xid::SET_WATCHES,
                        req,
                        wall_ms: VIRTUAL_EPOCH_MS + now,
                    };
                    self.send_to_node(node, conn, input);
                }
                self.schedule_client_op(client);
                self.schedule_ping(client, conn);
            }
            Output::Reply { xid, zxid, result, .. } => {
                if zxid > c.last_zxid {
                    c.last_zxid = zxid;
                }
                if xid == Xid::SET_WATCHES {
                    c.rewatching = false;
                }
                if xid.0 >= 0 && c.session != 0 {
                    self.seen.push(Seen::Reply { session: c.session, zxid });
                }
                if let Some(z) = crate::check::stat_ahead_of_header(zxid, &result) {
                    let s = c.session;
                    if self.ahead.is_none() {
                        let why = format!("at {now}ms session {s:#x} xid {xid}: stat shows {z}");
                        self.ahead = Some(format!("{why}, header {zxid}"));
                    }
                }
                if let Some(i) = c.pending.remove(&xid.0) {
                    let h = &mut self.history[i];
                    if let (Ok(Response::Create { path }), "create_seq") = (&result, h.kind) {
                        c.seq_held.push_back(path.clone());
                    }
                    h.complete_ms = Some(now);
                    h.err = Some(result.as_ref().err().map_or(0, |e| e.code()));
                    h.zxid = Some(zxid);
                    let err = h.err.unwrap_or(0);
                    self.trace.record(
                        now,
                        "done",
                        &[i as u64, err as u64, zxid.0],
                        format_args!("op={i} err={err} zxid={zxid}"),
                    );
                }
            }
            Output::Watch { event, zxid, .. } => {
                c.watches.retain(|p| *p != event.path);
                let rewatch = c.rewatching;
                self.seen.push(Seen::Watch { session: c.session, zxid, rewatch });
            }
            Output::Close { .. } => {
                c.state = ConnState::Down;
                self.conns.remove(&conn);
                let cut = std::mem::take(&mut c.pending).into_values().chain(c.connect_op.take());
                for i in cut {
                    let h = &mut self.history[i];
                    h.complete_ms = Some(now);
                    h.err = Some(CONNECTION_LOSS);
                    self.trace.event_args(
                        now,
                        "done",
                        format_args!("op={i} err={CONNECTION_LOSS}"),
                    );
                }
                self.schedule(now + RECONNECT_MS, Event::ClientReconnect { client });
            }
            Output::Text { .. }
            | Output::Persist { .. }
            | Output::Role(_)
            | Output::Send { .. }
            | Output::Event(_) => {}
        }
    }
}
