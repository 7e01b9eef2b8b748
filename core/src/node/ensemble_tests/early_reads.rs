//! Early reads on a leader, which applies each proposal when it makes it: a read of a path
//! no uncommitted proposal touched is answered at once, labelled with the committed zxid;
//! a read of a touched path waits for the commit.

use bytes::Bytes;

use super::Cluster;
use crate::ids::{Xid, Zxid};
use crate::input::Input;
use crate::output::{Mode, Output};
use crate::peer::PeerMsg;
use crate::proto::{Request, Response};

#[test]
fn a_leader_answers_untouched_reads_before_a_proposal_commits_and_touched_ones_after() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.ticks(20);
    assert_eq!(c.mode(3), Some(Mode::Leader));
    let writer = c.client(3, 7);
    let reader = c.client(3, 8);
    c.create(3, writer, 1, "/a");
    c.create(3, writer, 2, "/b");
    c.pump();
    assert!(c.acked(3, writer, 2));
    let committed = c.node(3).last_zxid();
    let set =
        Request::SetData { path: "/a".into(), data: Some(Bytes::from_static(b"w")), version: -1 };
    c.input(3, Input::ClientRequest { conn: writer, xid: Xid(3), req: set, wall_ms: 0 });
    let acks = c.pump_holding(|m| matches!(m, PeerMsg::Ack { .. }));
    assert!(!acks.is_empty());
    assert!(c.node(3).last_zxid() > committed, "the leader applied its proposal");
    assert!(!c.acked(3, writer, 3), "not committed yet");

    let reply = |c: &Cluster, xid: i32| -> Option<(Zxid, Option<Bytes>)> {
        c.seen[2].iter().find_map(|o| match o {
            Output::Reply { conn, xid: x, zxid, result: Ok(Response::GetData { data, .. }) }
                if *conn == reader && x.0 == xid =>
            {
                Some((*zxid, data.clone()))
            }
            _ => None,
        })
    };
    for (xid, path) in [(1, "/b"), (2, "/a")] {
        let req = Request::GetData { path: path.into(), watch: false };
        c.input(3, Input::ClientRequest { conn: reader, xid: Xid(xid), req, wall_ms: 0 });
    }
    let (zxid, _) = reply(&c, 1).expect("the untouched path is answered before the commit");
    assert_eq!(zxid, committed, "labelled with the committed zxid, not the proposal's");
    assert!(reply(&c, 2).is_none(), "the proposal's path waits for its commit");

    c.wire.extend(acks);
    c.pump();
    assert!(c.acked(3, writer, 3));
    let (zxid, data) = reply(&c, 2).expect("answered after the commit");
    assert_eq!(data.as_deref(), Some(&b"w"[..]));
    assert_eq!(zxid, c.node(3).last_zxid());
}
