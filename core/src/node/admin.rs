//! Structured views of a node's state for the AdminServer (`/commands/<name>`) and the
//! Prometheus endpoint: the same facts the four-letter words print as text
//! ([`super::four_letter`]), as plain structs the shell turns into JSON or metrics.
//!
//! Mirrors what ZooKeeper's `admin.Commands` read from `ZooKeeperServer`, `ServerStats`,
//! `ServerCnxn#getConnectionInfo`, the session tracker and the watch managers. Invariant:
//! every view is a read of the node's current state (only the two `reset_*` calls change
//! anything, and only statistics), and every list comes out in a fixed order (by session
//! id, path or connection id) so two reads of the same state print the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use super::Node;
use crate::ids::{SessionId, Zxid};
use crate::output::Mode;

/// A connection's last zxid after `crst`: ZooKeeper's -1, which `cons` prints as
/// `0xffffffffffffffff` and JSON as -1 (the zxid read as a signed long).
pub const NO_ZXID: Zxid = Zxid(u64::MAX);

/// The counters behind `srvr`, `stat`, `mntr` and the gauges of `/metrics`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerView {
    /// `zookeeper.version` as the node reports it.
    pub version: String,
    /// The node's role (`standalone`, `leader`, ...).
    pub mode: Mode,
    /// Requests and four-letter words received from clients.
    pub packets_received: u64,
    /// Replies, notifications and handshakes sent to clients.
    pub packets_sent: u64,
    /// Request latency in ms since the last `srst` (0 when nothing was measured).
    pub latency_min_ms: u64,
    pub latency_avg_ms: f64,
    pub latency_max_ms: u64,
    /// Client-visible outputs waiting for the disk (ZooKeeper's outstanding requests).
    pub outstanding_requests: u64,
    /// Open client connections, handshaken or not.
    pub alive_connections: u64,
    /// The zxid of the last transaction applied.
    pub last_processed_zxid: Zxid,
    /// Znodes as ZooKeeper counts them (the root twice, so a fresh server says 5).
    pub znode_count: u64,
    /// Watch registrations of every kind (ZooKeeper's data + child tables).
    pub watch_count: u64,
    /// Ephemeral znodes.
    pub ephemerals_count: u64,
    /// Bytes of paths and data in the tree, as ZooKeeper approximates them.
    pub approximate_data_size: u64,
    /// Live sessions (all global: keeper has no local sessions).
    pub global_sessions: u64,
    pub local_sessions: u64,
}

/// One client connection, as `cons` and `/commands/connections` describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionView {
    /// The peer as the driver gave it (`ip:port`).
    pub remote_address: String,
    /// The session, once the handshake is done.
    pub session: Option<SessionId>,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// Outputs for this connection waiting for the disk.
    pub outstanding_requests: u64,
    /// The last operation, as ZooKeeper abbreviates it (`GETD`, `SETD`, ... or `NA`).
    pub last_operation: &'static str,
    /// When the connection was accepted, epoch ms.
    pub established_ms: u64,
    /// The negotiated session timeout (0 before the handshake).
    pub session_timeout_ms: i32,
    /// The xid of the last request, -1 before any.
    pub last_cxid: i32,
    pub last_zxid: Zxid,
    /// When the last reply was sent, epoch ms (0 before any).
    pub last_response_ms: u64,
    pub latency_min_ms: u64,
    pub latency_avg_ms: u64,
    pub latency_max_ms: u64,
}

/// Sessions grouped by when they expire (`dump`'s first half).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiryBucket {
    /// The deadline in ms of the node's tick clock (ticks since start x tickTime), as
    /// ZooKeeper keys its expiry queue by elapsed time rounded to tickTime.
    pub expire_at_ms: u64,
    /// Sessions due then, in id order.
    pub sessions: Vec<SessionId>,
}

/// `wchs`: how many connections watch how many paths (data-side tables, as ZooKeeper).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchSummary {
    pub connections: u64,
    pub paths: u64,
    pub watches: u64,
}

impl Node {
    /// The server-wide counters (`srvr`, `mntr`, `/metrics`).
    pub fn server_view(&self) -> ServerView {
        let s = &self.stats;
        ServerView {
            version: self.config.version_text.clone(),
            mode: self.mode,
            packets_received: s.packets_received,
            packets_sent: s.packets_sent,
            latency_min_ms: s.latency_min_ms,
            latency_avg_ms: s.latency_avg_ms(),
            latency_max_ms: s.latency_max_ms,
            outstanding_requests: self.held.len() as u64,
            alive_connections: self.conns.len() as u64,
            last_processed_zxid: self.last_zxid,
            znode_count: self.reported_node_count() as u64,
            watch_count: self.watches.count() as u64,
            ephemerals_count: self.tree.ephemeral_count() as u64,
            approximate_data_size: self.tree.approximate_data_size(),
            global_sessions: self.sessions.len() as u64,
            local_sessions: 0,
        }
    }

    /// Every client connection, in connection order.
    pub fn connection_views(&self) -> Vec<ConnectionView> {
        let mut waiting: BTreeMap<crate::ids::ConnId, u64> = BTreeMap::new();
        for h in &self.held {
            if let Some(conn) = h.output.client_conn() {
                *waiting.entry(conn).or_default() += 1;
            }
        }
        self.conns
            .iter()
            .map(|(id, c)| ConnectionView {
                remote_address: c.addr.clone(),
                session: c.session,
                packets_received: c.received,
                packets_sent: c.sent,
                outstanding_requests: waiting.get(id).copied().unwrap_or(0),
                last_operation: c.last_op,
                established_ms: c.established_ms,
                session_timeout_ms: c.timeout_ms,
                last_cxid: c.last_cxid,
                last_zxid: c.last_zxid,
                last_response_ms: c.last_response_ms,
                latency_min_ms: c.latency_min_ms,
                latency_avg_ms: c.latency_total_ms.checked_div(c.latency_count).unwrap_or(0),
                latency_max_ms: c.latency_max_ms,
            })
            .collect()
    }

    /// Live sessions grouped by deadline, earliest first.
    pub fn session_expiry(&self) -> Vec<ExpiryBucket> {
        let mut buckets: BTreeMap<u64, Vec<SessionId>> = BTreeMap::new();
        for s in self.sessions.iter() {
            buckets.entry(s.deadline_tick).or_default().push(s.id);
        }
        buckets
            .into_iter()
            .map(|(tick, mut sessions)| {
                sessions.sort();
                ExpiryBucket { expire_at_ms: tick * self.config.tick_ms, sessions }
            })
            .collect()
    }

    /// The ephemeral znodes of each session that owns any, by session id.
    pub fn ephemerals_by_session(&self) -> BTreeMap<SessionId, Vec<String>> {
        self.tree.ephemeral_sessions().into_iter().collect()
    }

    /// `wchs` counts.
    pub fn watch_summary(&self) -> WatchSummary {
        let (connections, paths, watches) = self.watches.summary();
        WatchSummary {
            connections: connections as u64,
            paths: paths as u64,
            watches: watches as u64,
        }
    }

    /// `wchp`: each watched path and the sessions watching it (connections without a
    /// session count as session 0, as ZooKeeper prints them).
    pub fn watches_by_path(&self) -> BTreeMap<String, Vec<SessionId>> {
        self.watches
            .by_path()
            .into_iter()
            .map(|(path, conns)| {
                let sessions: BTreeSet<SessionId> =
                    conns.into_iter().map(|c| self.session_of(c)).collect();
                (path, sessions.into_iter().collect())
            })
            .collect()
    }

    /// `wchc`: each watching session and the paths it watches.
    pub fn watches_by_session(&self) -> BTreeMap<SessionId, Vec<String>> {
        let mut out: BTreeMap<SessionId, BTreeSet<String>> = BTreeMap::new();
        for (path, conns) in self.watches.by_path() {
            for conn in conns {
                out.entry(self.session_of(conn)).or_default().insert(path.clone());
            }
        }
        out.into_iter().map(|(s, paths)| (s, paths.into_iter().collect())).collect()
    }

    /// `srst`: forgets the server-wide packet and latency counters.
    pub fn reset_server_stats(&mut self) {
        self.stats = Default::default();
    }

    /// `crst`: forgets every connection's counters and its last operation, as ZooKeeper's
    /// `ServerCnxn.resetStats` does (last cxid and zxid become -1, the operation `NA`).
    pub fn reset_connection_stats(&mut self) {
        for c in self.conns.values_mut() {
            c.received = 0;
            c.sent = 0;
            c.latency_count = 0;
            c.latency_total_ms = 0;
            c.latency_min_ms = 0;
            c.latency_max_ms = 0;
            c.last_op = "NA";
            c.last_cxid = -1;
            c.last_zxid = NO_ZXID;
            c.last_response_ms = 0;
        }
    }

    fn session_of(&self, conn: crate::ids::ConnId) -> SessionId {
        self.conns.get(&conn).and_then(|c| c.session).unwrap_or(SessionId::NONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ids::{ConnId, Xid};
    use crate::input::Input;
    use crate::persist::Recovered;
    use crate::proto::{Acl, ConnectRequest, CreateOp, CreateRequest, Request};
    use bytes::Bytes;

    fn node_with_client() -> Node {
        let mut node = Node::new(Config::standalone(1000), Recovered::default(), 7);
        node.handle(Input::Tick { wall_ms: 1_000 });
        node.handle(Input::ClientOpen { conn: ConnId(1), addr: "127.0.0.1:4000".into() });
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid::ZERO,
            timeout_ms: 4000,
            session_id: SessionId::NONE,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: None,
        };
        node.handle(Input::ClientConnect { conn: ConnId(1), req });
        drain_and_persist(&mut node);
        node
    }

    /// Confirms every persist at once, as a disk that never lags.
    fn drain_and_persist(node: &mut Node) {
        loop {
            let mut last = None;
            while let Some(o) = node.poll() {
                if let crate::output::Output::Persist { seq, .. } = o {
                    last = Some(seq);
                }
            }
            match last {
                Some(seq) => node.handle(Input::Persisted { up_to: seq }),
                None => return,
            }
        }
    }

    /// The views agree with the state built through inputs: node count, ephemerals,
    /// watches by path and by session, and the connection with its session.
    #[test]
    fn views_follow_the_state() {
        let mut node = node_with_client();
        let fresh = node.server_view();
        assert_eq!(fresh.znode_count, 5, "ZooKeeper's count for a fresh tree");
        assert_eq!(fresh.alive_connections, 1);
        assert_eq!(fresh.global_sessions, 1);
        let create = |path: &str, ephemeral: bool| {
            Request::Create(CreateRequest {
                op: CreateOp::Create,
                path: path.into(),
                data: Some(Bytes::from_static(b"x")),
                acl: Acl::open_unsafe(),
                flags: i32::from(ephemeral),
                ttl: None,
            })
        };
        for (xid, (path, eph)) in (1..).zip([("/a", false), ("/e", true)]) {
            let input = Input::ClientRequest {
                conn: ConnId(1),
                xid: Xid(xid),
                req: create(path, eph),
                wall_ms: 2_000,
            };
            node.handle(input);
            drain_and_persist(&mut node);
        }
        let get = Request::GetData { path: "/a".into(), watch: true };
        node.handle(Input::ClientRequest {
            conn: ConnId(1),
            xid: Xid(9),
            req: get,
            wall_ms: 2_000,
        });
        drain_and_persist(&mut node);

        let view = node.server_view();
        assert_eq!(view.znode_count, 7);
        assert_eq!(view.ephemerals_count, 1);
        assert_eq!(view.watch_count, 1);
        let conns = node.connection_views();
        assert_eq!(conns.len(), 1);
        let sid = conns[0].session.expect("handshake done");
        assert_eq!(conns[0].remote_address, "127.0.0.1:4000");
        assert_eq!(conns[0].last_cxid, 9);
        assert_eq!(node.watches_by_path(), BTreeMap::from([("/a".to_string(), vec![sid])]));
        assert_eq!(node.watches_by_session(), BTreeMap::from([(sid, vec!["/a".to_string()])]));
        assert_eq!(node.ephemerals_by_session(), BTreeMap::from([(sid, vec!["/e".to_string()])]));
        assert_eq!(node.watch_summary(), WatchSummary { connections: 1, paths: 1, watches: 1 });
        let expiry = node.session_expiry();
        assert_eq!(expiry.len(), 1);
        assert_eq!(expiry[0].sessions, vec![sid]);
        assert_eq!(expiry[0].expire_at_ms % 1000, 0, "deadlines fall on tick boundaries");

        assert!(node.server_view().packets_received >= 3);
        node.reset_server_stats();
        assert_eq!(node.server_view().packets_received, 0);
        assert!(node.connection_views()[0].packets_received > 0);
        node.reset_connection_stats();
        let reset = &node.connection_views()[0];
        assert_eq!(reset.packets_received, 0);
        assert_eq!((reset.last_operation, reset.last_cxid, reset.last_zxid), ("NA", -1, NO_ZXID));
    }
}
