//! The node-side link bookkeeping: generations, PeerDown, bounded queues; and two
//! transports on loopback exchanging messages and reporting a break.

use super::*;
use keeper_core::ids::Zxid;

fn link(generation: u64, frames: usize) -> (LinkOut, mpsc::Receiver<Vec<u8>>) {
    let (tx, rx) = mpsc::channel(frames);
    (LinkOut { generation, tx, queued: Arc::new(AtomicUsize::new(0)) }, rx)
}

fn peer(n: u64) -> ServerId {
    ServerId(n)
}

#[test]
fn one_generation_at_a_time_with_one_peer_down_between() {
    let mut r = PeerRouter::default();
    let msg = |generation| PeerEvent::Msg { id: peer(2), generation, msg: PeerMsg::Ping };
    let (l1, _rx1) = link(1, 8);
    assert!(r.event(PeerEvent::Up { id: peer(2), out: l1 }).is_empty());
    assert_eq!(r.event(msg(1)), vec![Input::Peer { from: peer(2), msg: Box::new(PeerMsg::Ping) }]);
    let (l2, _rx2) = link(2, 8);
    assert_eq!(
        r.event(PeerEvent::Up { id: peer(2), out: l2 }),
        vec![Input::PeerDown { id: peer(2) }]
    );
    assert!(r.event(msg(1)).is_empty(), "a replaced link's late messages are dropped");
    assert!(r.event(PeerEvent::Down { id: peer(2), generation: 1 }).is_empty());
    assert_eq!(r.event(msg(2)).len(), 1);
    assert_eq!(
        r.event(PeerEvent::Down { id: peer(2), generation: 2 }),
        vec![Input::PeerDown { id: peer(2) }]
    );
    assert!(r.event(msg(2)).is_empty());
}

#[test]
fn only_the_latest_vote_waits_for_a_link() {
    use keeper_core::election::{Notification, PeerState, SenderConfig, Vote};
    let vote = |epoch| {
        PeerMsg::Vote(Notification {
            state: PeerState::Looking,
            vote: Vote { leader: peer(1), zxid: Zxid(0), peer_epoch: 0 },
            election_epoch: epoch,
            config: SenderConfig::default(),
        })
    };
    let mut r = PeerRouter::default();
    assert_eq!(r.send(peer(2), &vote(1)), None);
    assert_eq!(r.send(peer(2), &vote(2)), None);
    assert_eq!(r.send(peer(2), &PeerMsg::Ping), None);
    let (l, mut rx) = link(1, 8);
    assert!(r.event(PeerEvent::Up { id: peer(2), out: l }).is_empty());
    let frame = rx.try_recv().expect("the waiting vote is sent on the new link");
    assert_eq!(
        keeper_core::peer_codec::decode_frame(&frame, 1 << 20),
        Ok(keeper_core::peer_codec::PeerFrame::Msg(vote(2)))
    );
    assert!(rx.try_recv().is_err(), "nothing else waited: the ping was dropped");
}

#[test]
fn a_full_queue_breaks_the_link_instead_of_waiting() {
    let mut r = PeerRouter::default();
    let (l, mut rx) = link(1, 2);
    r.event(PeerEvent::Up { id: peer(3), out: l });
    assert_eq!(r.send(peer(3), &PeerMsg::Commit(Zxid(1))), None);
    assert_eq!(r.send(peer(3), &PeerMsg::Commit(Zxid(2))), None);
    assert_eq!(r.send(peer(3), &PeerMsg::Commit(Zxid(3))), Some(Input::PeerDown { id: peer(3) }));
    assert_eq!(r.send(peer(3), &PeerMsg::Commit(Zxid(4))), None, "no link: dropped");
    assert!(rx.try_recv().is_ok() && rx.try_recv().is_ok());
    // The byte bound: a link whose unsent bytes pass LINK_QUEUE_BYTES is broken too.
    let (l, _rx) = link(2, 8);
    l.queued.store(LINK_QUEUE_BYTES, Ordering::Release);
    r.event(PeerEvent::Up { id: peer(3), out: l });
    assert_eq!(r.send(peer(3), &PeerMsg::Ping), Some(Input::PeerDown { id: peer(3) }));
}

fn member(id: u64, election_port: u16, quorum_port: u16) -> Member {
    Member { id: peer(id), host: "127.0.0.1".into(), quorum_port, election_port, observer: false }
}

/// Two transports on loopback: server 2 dials server 1; messages flow both ways in order;
/// when server 2 stops, server 1 sees PeerDown.
#[tokio::test]
async fn two_servers_link_exchange_and_see_the_break() {
    let ports: Vec<TcpListener> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        v
    };
    let port = |i: usize| ports[i].local_addr().unwrap().port();
    let members = vec![member(1, port(0), port(1)), member(2, port(2), port(3))];
    let cfg = |me| {
        let members = members.clone();
        Arc::new(PeerConfig { me: peer(me), members, max_frame: 1 << 20, idle: None, files: None })
    };
    let mut it = ports.into_iter();
    let (e1, q1, e2, q2) =
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let (_stop1, stop1_rx) = watch::channel(false);
    let (stop2, stop2_rx) = watch::channel(false);
    let mut rx1 = start(cfg(1), PeerListeners { quorum: q1, election: e1 }, stop1_rx);
    let mut rx2 = start(cfg(2), PeerListeners { quorum: q2, election: e2 }, stop2_rx);
    let (mut r1, mut r2) = (PeerRouter::default(), PeerRouter::default());
    let within = Duration::from_secs(10);
    for (rx, r) in [(&mut rx1, &mut r1), (&mut rx2, &mut r2)] {
        let attach = tokio::time::timeout(within, rx.recv()).await.unwrap().unwrap();
        assert!(matches!(attach, PeerEvent::Attach(_)), "the control handle comes first");
        assert!(r.event(attach).is_empty());
    }
    // Both ends see the link come up.
    let up1 = tokio::time::timeout(within, rx1.recv()).await.unwrap().unwrap();
    assert!(r1.event(up1).is_empty());
    let up2 = tokio::time::timeout(within, rx2.recv()).await.unwrap().unwrap();
    assert!(r2.event(up2).is_empty());
    for z in 1..=100 {
        assert_eq!(r2.send(peer(1), &PeerMsg::Commit(Zxid(z))), None);
    }
    assert_eq!(r1.send(peer(2), &PeerMsg::Ping), None);
    for z in 1..=100 {
        let ev = tokio::time::timeout(within, rx1.recv()).await.unwrap().unwrap();
        assert_eq!(
            r1.event(ev),
            vec![Input::Peer { from: peer(2), msg: Box::new(PeerMsg::Commit(Zxid(z))) }]
        );
    }
    let ev = tokio::time::timeout(within, rx2.recv()).await.unwrap().unwrap();
    assert_eq!(r2.event(ev), vec![Input::Peer { from: peer(1), msg: Box::new(PeerMsg::Ping) }]);
    // Server 2 goes away: dropping its router closes its end of the link.
    stop2.send(true).unwrap();
    drop(r2);
    drop(rx2);
    let ev = tokio::time::timeout(within, rx1.recv()).await.unwrap().unwrap();
    assert_eq!(r1.event(ev), vec![Input::PeerDown { id: peer(2) }]);
}

/// A transport with an idle limit, its own election port, and its event receiver (the
/// Attach event already taken).
async fn idle_server(me: u64, members: Vec<Member>, idle: Duration) -> mpsc::Receiver<PeerEvent> {
    let own = members.iter().find(|m| m.id == peer(me)).unwrap().clone();
    let election = TcpListener::bind(("127.0.0.1", own.election_port)).await.unwrap();
    let quorum = TcpListener::bind(("127.0.0.1", own.quorum_port)).await.unwrap();
    let cfg =
        PeerConfig { me: peer(me), members, max_frame: 1 << 20, idle: Some(idle), files: None };
    let (stop, stop_rx) = watch::channel(false);
    std::mem::forget(stop); // runs until the test's runtime ends
    let mut rx = start(Arc::new(cfg), PeerListeners { quorum, election }, stop_rx);
    assert!(matches!(rx.recv().await, Some(PeerEvent::Attach(_))));
    rx
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A half-open link: a "peer" says hello and then never sends another byte (as a host that
/// vanished without a FIN). After `idle` with nothing read, the link is torn down and the
/// node sees PeerDown; not before.
#[tokio::test]
async fn a_silent_link_is_broken_after_the_idle_limit() {
    use tokio::io::AsyncWriteExt;
    let idle = Duration::from_millis(400);
    let members = vec![member(1, free_port(), free_port()), member(2, free_port(), free_port())];
    let mut rx = idle_server(1, members.clone(), idle).await;
    let mut silent = TcpStream::connect(("127.0.0.1", members[0].election_port)).await.unwrap();
    let mut hello = Vec::new();
    let shape = members.iter().map(|m| (m.id, m.observer)).collect();
    peer_codec::encode_hello(&Hello { from: peer(2), to: peer(1), members: shape }, &mut hello);
    silent.write_all(&hello).await.unwrap();
    let mut r = PeerRouter::default();
    let within = Duration::from_secs(10);
    let up = tokio::time::timeout(within, rx.recv()).await.unwrap().unwrap();
    assert!(matches!(up, PeerEvent::Up { .. }));
    let since = tokio::time::Instant::now();
    assert!(r.event(up).is_empty());
    // Keepalives from server 1 arrive on the silent socket; nothing comes back.
    let down = tokio::time::timeout(within, rx.recv()).await.unwrap().unwrap();
    let waited = since.elapsed();
    assert_eq!(r.event(down), vec![Input::PeerDown { id: peer(2) }]);
    assert!(waited >= idle, "broken after {waited:?}, before the idle limit {idle:?}");
    assert!(waited < idle * 5, "broken only after {waited:?}");
    drop(silent);
}

/// Two live transports with the same idle limit keep a link with no protocol traffic up
/// for many times the limit: the keepalives count as traffic.
#[tokio::test]
async fn keepalives_hold_a_quiet_link_up() {
    let idle = Duration::from_millis(300);
    let members = vec![member(1, free_port(), free_port()), member(2, free_port(), free_port())];
    let mut rx1 = idle_server(1, members.clone(), idle).await;
    let mut rx2 = idle_server(2, members, idle).await;
    let (mut r1, mut r2) = (PeerRouter::default(), PeerRouter::default());
    let within = Duration::from_secs(10);
    assert!(r1.event(tokio::time::timeout(within, rx1.recv()).await.unwrap().unwrap()).is_empty());
    assert!(r2.event(tokio::time::timeout(within, rx2.recv()).await.unwrap().unwrap()).is_empty());
    // Time passing is what is tested here: five idle limits without a message.
    tokio::time::sleep(idle * 5).await;
    assert!(rx1.try_recv().is_err() && rx2.try_recv().is_err(), "the quiet link stayed up");
    assert_eq!(r2.send(peer(1), &PeerMsg::Ping), None);
    let ev = tokio::time::timeout(within, rx1.recv()).await.unwrap().unwrap();
    assert_eq!(r1.event(ev), vec![Input::Peer { from: peer(2), msg: Box::new(PeerMsg::Ping) }]);
}

#[test]
fn dialing_follows_the_configuration() {
    use members::should_dial;
    let ms: Vec<Member> = (1..=3).map(|i| member(i, 1, 1)).collect();
    let picks = |me: u64, ms: &[Member]| -> Vec<u64> {
        ms.iter().filter(|m| should_dial(peer(me), ms, m)).map(|m| m.id.0).collect()
    };
    assert_eq!(picks(3, &ms), vec![1, 2]);
    assert_eq!(picks(1, &ms), Vec::<u64>::new());
    // Server 1 was removed: no member dials it, so it dials them all.
    assert_eq!(picks(1, &ms[1..]), vec![2, 3]);
}
