//! Dynamic reconfiguration in a scripted ensemble: kazoo's TestReconfig cases (no super
//! auth, bad input, add and remove an observer, a config version from the future), the
//! joint-quorum rule while a change is in flight, and a leader that removes itself.

use super::*;
use crate::error::KeeperError;

/// Reconfig on, `super:test` as the super digest; node 4 (when started) knows itself as
/// a fourth participant, as a joining server's zoo.cfg would.
fn tweak(cfg: &mut Config) {
    cfg.reconfig_enabled = true;
    cfg.super_digest = Some(crate::acl::digest("super:test"));
    if cfg.server_id == ServerId(4) {
        cfg.ensemble = Some(Ensemble::new((1..=4).map(ServerId), [], 50));
    }
}

fn cluster(up: &[u64]) -> Cluster {
    let mut c = Cluster::new(&[]);
    c.tweak = tweak;
    for id in up {
        c.start(*id);
    }
    c.ticks(20);
    assert_eq!(c.mode(3), Some(Mode::Leader));
    c
}

fn super_client(c: &mut Cluster, id: u64, conn: u64) -> ConnId {
    let k = c.client(id, conn);
    let req = Request::Auth {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(b"super:test"),
    };
    c.input(id, Input::ClientRequest { conn: k, xid: Xid(-4), req, wall_ms: 0 });
    k
}

/// Sends a reconfig and returns its reply, if one came.
fn reconfig(
    c: &mut Cluster,
    id: u64,
    conn: ConnId,
    xid: i32,
    joining: Option<&str>,
    leaving: Option<&str>,
    from: i64,
) -> Option<crate::proto::ReplyResult> {
    let req = Request::Reconfig {
        joining: joining.map(str::to_string),
        leaving: leaving.map(str::to_string),
        new_members: None,
        cur_config_id: from,
    };
    c.input(id, Input::ClientRequest { conn, xid: Xid(xid), req, wall_ms: 0 });
    c.pump();
    reply(c, id, conn, xid)
}

fn reply(c: &Cluster, id: u64, conn: ConnId, xid: i32) -> Option<crate::proto::ReplyResult> {
    c.seen[id as usize - 1].iter().rev().find_map(|o| match o {
        Output::Reply { conn: k, xid: x, result, .. } if *k == conn && x.0 == xid => {
            Some(result.clone())
        }
        _ => None,
    })
}

fn config_data(r: Option<crate::proto::ReplyResult>) -> String {
    match r {
        Some(Ok(Response::GetData { data: Some(d), .. })) => String::from_utf8(d.to_vec()).unwrap(),
        other => panic!("expected /zookeeper/config, got {other:?}"),
    }
}

#[test]
fn kazoo_reconfig_cases_on_a_followers_clients() {
    let mut c = cluster(&[1, 2, 3]);
    let plain = c.client(1, 7);
    let joining = "server.999=0.0.0.0:1234:2345:observer;3456";
    let r = reconfig(&mut c, 1, plain, 1, Some(joining), None, -1);
    assert_eq!(r, Some(Err(KeeperError::NoAuth)), "test_no_super_auth");
    let r = reconfig(&mut c, 1, plain, 2, Some("some thing"), None, -1);
    assert_eq!(r, Some(Err(KeeperError::BadArguments)), "test_bad_input");

    // test_add_remove_observer, through a follower's super client.
    let su = super_client(&mut c, 1, 8);
    let joining = "server.100=0.0.0.0:40001:40002:observer;0.0.0.0:40003";
    let data = config_data(reconfig(&mut c, 1, su, 1, Some(joining), None, -1));
    assert!(data.contains(joining), "{data}");
    assert!(data.contains("server.1=127.0.0.1:0:0:participant"), "{data}");
    for id in 1..=3 {
        let e = c.node(id).ensemble().expect("replicated");
        assert_eq!(e.observers, vec![ServerId(100)], "node {id} runs the new configuration");
        assert_eq!(format!("version={:x}", e.version), data.lines().last().unwrap());
    }
    let data = config_data(reconfig(&mut c, 1, su, 2, None, Some("100"), -1));
    assert!(!data.contains(joining), "{data}");
    let version = u64::from_str_radix(data.rsplit('=').next().unwrap(), 16).unwrap();
    let r = reconfig(&mut c, 1, su, 3, Some(joining), None, version as i64 + 1);
    assert_eq!(r, Some(Err(KeeperError::BadVersion)), "a config version from the future");
    // The right version works; fewer than two voters does not.
    let r = reconfig(&mut c, 1, su, 4, Some(joining), None, version as i64);
    assert!(config_data(r).contains(joining));
    let r = reconfig(&mut c, 1, su, 5, None, Some("1,2"), -1);
    assert_eq!(r, Some(Err(KeeperError::BadArguments)));
    // New voters that are not connected: no synced quorum in the new configuration.
    let three = "server.4=h:1:2;3,server.5=h:4:5;6,server.6=h:7:8;9";
    let r = reconfig(&mut c, 1, su, 6, Some(three), None, -1);
    assert_eq!(r, Some(Err(KeeperError::NewConfigNoQuorum)));
    for id in 1..=3 {
        assert_eq!(c.node(id).tree().digest(), c.node(3).tree().digest());
    }
}

#[test]
fn reconfig_disabled_answers_reconfigdisabled_everywhere() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.ticks(20);
    for id in [1, 3] {
        let k = c.client(id, 7);
        let r = reconfig(&mut c, id, k, 1, None, Some("1"), -1);
        assert_eq!(r, Some(Err(KeeperError::ReconfigDisabled)));
    }
}

/// Adding participant 4 to {1, 2, 3}: while the change is in flight a commit needs 2 of
/// the old 3 *and* 3 of the new 4. Node 1 and the leader alone are an old majority, which
/// must not be enough.
#[test]
fn a_reconfig_commits_only_with_quorums_of_both_configurations() {
    let mut c = cluster(&[1, 2, 3]);
    c.start(4);
    c.ticks(20);
    assert_eq!(c.mode(4), Some(Mode::Follower), "node 4 joins the leader as a follower");
    let su = super_client(&mut c, 3, 9);
    let joining = "server.4=127.0.0.1:40001:40002:participant;127.0.0.1:40003";
    let req = Request::Reconfig {
        joining: Some(joining.into()),
        leaving: None,
        new_members: None,
        cur_config_id: -1,
    };
    c.input(3, Input::ClientRequest { conn: su, xid: Xid(1), req, wall_ms: 0 });
    // Every ACK from nodes 2 and 4 is lost.
    c.pump_except(|from, _, msg| matches!(msg, PeerMsg::Ack { .. }) && (from == 2 || from == 4));
    assert_eq!(reply(&c, 3, su, 1), None, "an old majority alone does not commit a reconfig");
    assert_eq!(c.node(3).ensemble().unwrap().participants.len(), 3, "not active yet");
    // A later write is in the joint phase too; node 2's ACK (cumulative) makes 3 of 4.
    c.create(3, su, 2, "/after");
    c.pump_except(|from, _, msg| matches!(msg, PeerMsg::Ack { .. }) && from == 4);
    assert!(config_data(reply(&c, 3, su, 1)).contains(joining));
    assert!(matches!(reply(&c, 3, su, 2), Some(Ok(_))));
    for id in 1..=4 {
        let e = c.node(id).ensemble().unwrap();
        assert_eq!(e.participants, (1..=4).map(ServerId).collect::<Vec<_>>(), "node {id}");
    }
    // Now the four-voter rule holds on its own: with 2 and 4 silent, nothing commits.
    c.create(3, su, 3, "/quorum-of-four");
    c.pump_except(|from, _, msg| matches!(msg, PeerMsg::Ack { .. }) && (from == 2 || from == 4));
    assert_eq!(reply(&c, 3, su, 3), None, "2 of 4 is no quorum");
}

#[test]
fn a_leader_that_removes_itself_answers_then_steps_down_and_the_rest_elect() {
    let mut c = cluster(&[1, 2, 3]);
    let su = super_client(&mut c, 3, 9);
    let data = config_data(reconfig(&mut c, 3, su, 1, None, Some("3"), -1));
    assert!(!data.contains("server.3="), "{data}");
    assert_ne!(c.mode(3), Some(Mode::Leader), "the removed leader stepped down");
    c.ticks(60);
    assert_eq!(c.mode(2), Some(Mode::Leader), "{:?}", (c.mode(1), c.mode(2), c.mode(3)));
    assert_eq!(c.mode(1), Some(Mode::Follower));
    assert_eq!(c.mode(3), Some(Mode::Observer), "a removed server only follows, never votes");
    // The quorum is {1, 2} now: node 3's acknowledgements do not count.
    let k = c.client(1, 10);
    c.create(1, k, 1, "/two");
    c.pump_except(|from, _, msg| matches!(msg, PeerMsg::Ack { .. }) && from == 1);
    assert!(!c.has(1, "/two"), "2 of {{1, 2}} acked only by the leader: no commit");
    c.crash(3);
    c.create(1, k, 2, "/three");
    c.pump();
    assert!(c.has(1, "/three") && c.has(2, "/three"));
}

#[test]
fn a_never_reconfigured_ensemble_shows_its_zoo_cfg_configuration() {
    let mut c = cluster(&[1, 2, 3]);
    let k = c.client(2, 7);
    let req = Request::GetData { path: "/zookeeper/config".into(), watch: false };
    c.input(2, Input::ClientRequest { conn: k, xid: Xid(1), req, wall_ms: 0 });
    let data = config_data(reply(&c, 2, k, 1));
    let want = "server.1=127.0.0.1:0:0:participant\nserver.2=127.0.0.1:0:0:participant\n\
                server.3=127.0.0.1:0:0:participant\nversion=0";
    assert_eq!(data, want);
}

/// Seed 15690's liveness bug in miniature: node 1 is removed, then added back while it is
/// down, so it recovers believing itself removed. With node 2 gone too, node 3 cannot elect
/// without node 1's vote, and no leader can tell node 1 of its re-add: it learns it from
/// node 3's notifications, which carry node 3's configuration, and votes again.
#[test]
fn a_server_re_added_while_down_learns_it_from_a_vote_and_votes() {
    let mut c = cluster(&[1, 2, 3]);
    let su = super_client(&mut c, 3, 9);
    let data = config_data(reconfig(&mut c, 3, su, 1, None, Some("1"), -1));
    assert!(!data.contains("server.1="), "{data}");
    c.ticks(5);
    c.crash(1);
    let back = "server.1=127.0.0.1:0:0:participant;127.0.0.1:2181";
    let data = config_data(reconfig(&mut c, 3, su, 2, Some(back), None, -1));
    assert!(data.contains(back), "{data}");
    let re_added = c.node(3).ensemble().unwrap().version;
    c.crash(2);
    c.start(1);
    let removed = c.node(1).ensemble().unwrap();
    assert!(removed.version < re_added && !removed.participants.contains(&ServerId(1)));
    c.ticks(80);
    let e = c.node(1).ensemble().unwrap();
    assert_eq!(e.version, re_added, "node 1 adopted the configuration node 3 voted with");
    assert_eq!(e.participants, (1..=3).map(ServerId).collect::<Vec<_>>());
    assert_eq!(c.mode(3), Some(Mode::Leader), "{:?}", (c.mode(1), c.mode(3)));
    assert_eq!(c.mode(1), Some(Mode::Follower), "node 1 votes and follows as a voter");
    // The pair commits writes: {1, 3} is a quorum of {1, 2, 3}.
    let k = c.client(1, 10);
    c.create(1, k, 1, "/after-re-add");
    c.pump();
    assert!(c.has(1, "/after-re-add") && c.has(3, "/after-re-add"));
}
