//! Simulated client sessions: connect, send a weighted mix of requests with per-session FIFO,
//! reconnect with their session id and password after a close, and record a history.
//!
//! Invariant: a client's randomness comes only from its own ChaCha stream, so adding a
//! client never changes another client's draws. The root's child list stays bounded: plain
//! creates draw from eight names, ephemeral ones from eight per session, and a session holds at most
//! [`SEQ_HELD`] sequential nodes (a queue consumer: a `create_seq` draw while it holds that
//! many deletes the oldest instead), so getChildren("/") costs the same in second 20 as in
//! second 1 instead of growing with every sequential create.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use keeper_core::proto::{Acl, CreateOp, CreateRequest, Request};
use keeper_core::Zxid;
use rand_chacha::rand_core::Rng;
use rand_chacha::ChaCha8Rng;

/// At most this many sequential nodes created by one session are left standing.
pub const SEQ_HELD: usize = 2;

/// Connection state of a simulated client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnState {
    Down,
    Connecting { conn: u64, node: u64 },
    Up { conn: u64, node: u64 },
}

/// One simulated client session.
pub struct Client {
    pub id: u32,
    pub rng: ChaCha8Rng,
    pub state: ConnState,
    pub session: i64,
    pub passwd: Bytes,
    pub next_xid: i32,
    pub last_zxid: Zxid,
    /// xid -> index into the run's history, in send order.
    pub pending: BTreeMap<i32, usize>,
    /// Paths with a data watch held (re-registered by setWatches on reconnect).
    pub watches: Vec<String>,
    /// True from sending setWatches on a new connection until its reply: events then
    /// report the server's state at re-registration, not one transaction.
    pub rewatching: bool,
    /// Index of the pending connect op in the history.
    pub connect_op: Option<usize>,
    /// The session timeout the server granted (0 before the first handshake).
    pub timeout_ms: i32,
    /// Set by an `abandon` fault: the client sends nothing more, ever.
    pub abandoned: bool,
    /// When the client last sent anything to a server (virtual ms).
    pub last_sent_ms: u64,
    /// Sequential nodes this client created (the paths the server named), oldest first.
    pub seq_held: VecDeque<String>,
}

impl Client {
    pub fn new(id: u32, rng: ChaCha8Rng) -> Client {
        Client {
            id,
            rng,
            state: ConnState::Down,
            session: 0,
            passwd: Bytes::from_static(&[0; 16]),
            next_xid: 1,
            last_zxid: Zxid::ZERO,
            pending: BTreeMap::new(),
            watches: Vec::new(),
            rewatching: false,
            connect_op: None,
            timeout_ms: 0,
            abandoned: false,
            last_sent_ms: 0,
            seq_held: VecDeque::new(),
        }
    }

    /// Draws the next request from `weights` (order of `Mix::weights`).
    pub fn next_request(&mut self, weights: &[u32; 10]) -> (&'static str, Request) {
        let total: u32 = weights.iter().sum();
        let mut pick = (self.rng.next_u64() % u64::from(total.max(1))) as u32;
        let mut kind = 0;
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                kind = i;
                break;
            }
            pick -= w;
        }
        // Few paths, so ops collide and versions, NoNode and NodeExists all occur.
        let n = self.rng.next_u64() % 8;
        let path = format!("/k{n}");
        let data = Bytes::from(format!("c{}-{}", self.id, self.next_xid));
        let create = |path: String, flags: i32| {
            Request::Create(CreateRequest {
                op: CreateOp::Create,
                path,
                data: Some(data.clone()),
                acl: Acl::open_unsafe(),
                flags,
                ttl: None,
            })
        };
        let version = (self.rng.next_u64() % 3) as i32 - 1;
        let watch = self.rng.next_u64() & 3 == 0; // one get in four sets a watch
        match kind {
            0 => ("create", create(path, 0)),
            1 if self.seq_held.len() >= SEQ_HELD => {
                let oldest = self.seq_held.pop_front().expect("holds SEQ_HELD > 0");
                // Any version or the one it was created with: the delete succeeds.
                ("delete", Request::Delete { path: oldest, version: version.min(0) })
            }
            1 => ("create_seq", create(format!("{path}-"), 2)),
            2 => ("create_eph", create(format!("/e{}-{n}", self.id), 1)),
            3 => ("set", Request::SetData { path, data: Some(data.clone()), version }),
            4 => ("delete", Request::Delete { path, version }),
            5 => (
                "multi",
                Request::Multi(vec![
                    Request::Check { path: path.clone(), version: -1 },
                    Request::SetData { path, data: Some(data.clone()), version: -1 },
                ]),
            ),
            6 => {
                if watch && !self.watches.contains(&path) {
                    self.watches.push(path.clone());
                }
                ("get", Request::GetData { path, watch })
            }
            7 => ("children", Request::GetChildren { path: "/".into(), watch: false }),
            8 => ("exists", Request::Exists { path, watch: false }),
            _ => ("sync", Request::Sync { path: "/".into() }),
        }
    }
}
