//! Micro-benchmark of the Zab commit path in memory (divan): three nodes, instant disks and
//! a message pump, so that what is timed is only the nodes' own work for one write, from
//! the client's setData on the leader (or a follower) to its reply: PROPOSAL, the log
//! append on every member, ACKs, COMMIT on the followers and the apply everywhere.
//!
//! Run with `cargo bench -p keeper-core --bench zab`. The ensemble is formed and the session
//! opened outside the timed part; docs/performance.md keeps the latest figures.

use std::collections::VecDeque;

use bytes::Bytes;
use divan::Bencher;
use keeper_core::config::{Config, Ensemble};
use keeper_core::ids::{ConnId, PersistSeq, ServerId, Xid};
use keeper_core::input::Input;
use keeper_core::output::{Mode, Output};
use keeper_core::peer::PeerMsg;
use keeper_core::persist::Recovered;
use keeper_core::proto::{Acl, ConnectRequest, CreateOp, CreateRequest, Request};
use keeper_core::Node;

fn main() {
    divan::main();
}

/// Three nodes with instant disks; peer messages wait in `wire` until pumped.
struct Trio {
    nodes: Vec<Node>,
    wire: VecDeque<(u64, u64, PeerMsg)>,
    /// Successful replies seen since the last request: (node, xid).
    replies: Vec<(u64, Xid)>,
}

impl Trio {
    fn new() -> Trio {
        let nodes = (1..=3)
            .map(|id| {
                let mut c = Config::standalone(50);
                c.server_id = ServerId(id);
                c.ensemble = Some(Ensemble::new((1..=3).map(ServerId), [], 50));
                Node::new(c, Recovered::default(), id)
            })
            .collect();
        let mut t = Trio { nodes, wire: VecDeque::new(), replies: Vec::new() };
        for _ in 0..40 {
            for id in 1..=3 {
                t.input(id, Input::Tick { wall_ms: 0 });
            }
            t.pump();
        }
        assert!(t.nodes.iter().any(|n| n.mode() == Mode::Leader), "a leader within 40 ticks");
        t
    }

    fn leader(&self) -> u64 {
        1 + self.nodes.iter().position(|n| n.mode() == Mode::Leader).expect("formed") as u64
    }

    /// Hands `id` one input and carries out its outputs; every Persist is confirmed at once.
    fn input(&mut self, id: u64, input: Input) {
        let n = &mut self.nodes[id as usize - 1];
        n.handle(input);
        loop {
            let mut last = None;
            while let Some(o) = n.poll() {
                match o {
                    Output::Persist { seq, .. } => last = Some(seq),
                    Output::Send { to, msg } => self.wire.push_back((id, to.0, msg)),
                    Output::Reply { xid, result: Ok(_), .. } => self.replies.push((id, xid)),
                    _ => {}
                }
            }
            match last {
                Some(seq) => n.handle(Input::Persisted { up_to: PersistSeq(seq.0) }),
                None => break,
            }
        }
    }

    fn pump(&mut self) {
        while let Some((from, to, msg)) = self.wire.pop_front() {
            self.input(to, Input::Peer { from: ServerId(from), msg: Box::new(msg) });
        }
    }

    /// Opens a session on `id` and returns its connection.
    fn session(&mut self, id: u64) -> ConnId {
        let conn = ConnId(id * 100);
        self.input(id, Input::ClientOpen { conn, addr: "10.0.0.9:1".into() });
        let req = ConnectRequest::new_session(30_000, Some(false));
        self.input(id, Input::ClientConnect { conn, req });
        self.pump();
        conn
    }

    /// One request from `conn` on `id`, pumped until its reply arrives.
    fn request(&mut self, id: u64, conn: ConnId, xid: Xid, req: Request) {
        self.input(id, Input::ClientRequest { conn, xid, req, wall_ms: 0 });
        self.pump();
        assert!(self.replies.drain(..).any(|r| r == (id, xid)), "no successful reply to {xid:?}");
    }
}

/// setData of 100 bytes through the whole Zab path; `via_follower` sends it to a follower,
/// which forwards it to the leader and answers after the COMMIT.
#[divan::bench(args = [false, true])]
fn zab_set_data_commit(bencher: Bencher, via_follower: bool) {
    let mut t = Trio::new();
    let leader = t.leader();
    let id = if via_follower { leader % 3 + 1 } else { leader };
    let conn = t.session(id);
    let create = Request::Create(CreateRequest {
        op: CreateOp::Create,
        path: "/bench".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
        ttl: None,
    });
    t.request(id, conn, Xid(1), create);
    let data = Bytes::from(vec![b'x'; 100]);
    let mut xid = 1;
    bencher.bench_local(|| {
        xid += 1;
        let req = Request::SetData { path: "/bench".into(), data: Some(data.clone()), version: -1 };
        t.request(id, conn, Xid(xid), req);
    });
}
