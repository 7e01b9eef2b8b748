//! ACLs and watches under attack, against a real server (docs/security.md): a client must
//! learn nothing through watches about nodes it cannot read. Each case changes an
//! unreadable node first and a readable one after; the first event the attacker gets must
//! be the readable one's, so a leaked event fails the test and a test that receives
//! nothing times out. ZooKeeper 3.8.4+ (ZOOKEEPER-4799) filters events by READ the same
//! way; keeper is stricter for setWatches' catch-up events, which ZooKeeper sends
//! unchecked.

use std::time::Duration;

mod common;

use common::start_server;
use keeper_core::acl::digest;
use keeper_core::error::KeeperError;
use keeper_core::ids::Zxid;
use keeper_core::proto::{perms, Acl, AddWatchMode, EventType, Id, Request, WatchedEvent};
use keeper_net::client::{connect, Client, ClientError};
use tokio::sync::mpsc::UnboundedReceiver;

type Events = UnboundedReceiver<WatchedEvent>;

async fn client(addr: std::net::SocketAddr) -> (Client, Events) {
    connect(&[addr.to_string()], Duration::from_secs(30)).await.unwrap()
}

fn bob_only() -> Vec<Acl> {
    vec![Acl { perms: perms::ALL, id: Id::new("digest", &digest("bob:right")) }]
}

/// bob (authenticated) with /locked (bob only, one child) and /open.
async fn setup(addr: std::net::SocketAddr) -> Client {
    let (bob, _) = client(addr).await;
    bob.add_auth("digest", b"bob:right").await.unwrap();
    bob.create("/locked", b"s", bob_only(), 0, None).await.unwrap();
    bob.create("/locked/child", b"s", bob_only(), 0, None).await.unwrap();
    bob.create("/open", b"", Acl::open_unsafe(), 0, None).await.unwrap();
    bob
}

async fn next(events: &mut Events) -> WatchedEvent {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("an event within 5 s")
        .expect("the connection is up")
}

fn add_watch(path: &str, mode: AddWatchMode) -> Request {
    Request::AddWatch { path: path.into(), mode: mode as i32 }
}

/// A recursive watch on / hears nothing of what happens under /locked: creates, data
/// changes, deletes, children changed; only the /open change that follows.
#[tokio::test]
async fn recursive_and_persistent_watches_hear_nothing_unreadable() {
    let (addr, _stop) = start_server("").await;
    let bob = setup(addr).await;
    let (mallory, mut events) = client(addr).await;
    mallory.request(add_watch("/", AddWatchMode::PersistentRecursive)).await.unwrap();
    mallory.request(add_watch("/locked", AddWatchMode::Persistent)).await.unwrap();
    bob.create("/locked/new", b"x", bob_only(), 0, None).await.unwrap();
    bob.set_data("/locked", b"t", -1).await.unwrap();
    bob.set_data("/locked/child", b"t", -1).await.unwrap();
    bob.delete("/locked/new", -1).await.unwrap();
    bob.set_data("/open", b"control", -1).await.unwrap();
    let ev = next(&mut events).await;
    assert_eq!((ev.event_type, ev.path.as_str()), (EventType::NodeDataChanged, "/open"));
    // A readable node created under an unreadable parent: its own event is readable, the
    // parent's NodeChildrenChanged (to the persistent watch on /locked) is not.
    bob.create("/locked/pub", b"", Acl::open_unsafe(), 0, None).await.unwrap();
    let ev = next(&mut events).await;
    assert_eq!((ev.event_type, ev.path.as_str()), (EventType::NodeCreated, "/locked/pub"));
    bob.set_data("/open", b"control2", -1).await.unwrap();
    assert_eq!(next(&mut events).await.path, "/open", "no NodeChildrenChanged for /locked");
}

/// A one-shot watch set while the node was readable does not fire after its ACL shut the
/// client out; an exists watch on an absent path does not fire when the node appears
/// unreadable; a watch on an unreadable node cannot be set at all.
#[tokio::test]
async fn one_shot_watches_are_filtered_and_refused() {
    let (addr, _stop) = start_server("").await;
    let bob = setup(addr).await;
    let (mallory, mut events) = client(addr).await;
    bob.create("/was-open", b"", Acl::open_unsafe(), 0, None).await.unwrap();
    mallory.get_data("/was-open", true).await.unwrap();
    bob.set_acl("/was-open", bob_only(), -1).await.unwrap();
    bob.set_data("/was-open", b"secret", -1).await.unwrap();
    assert!(mallory.exists("/appears", true).await.unwrap().is_none());
    bob.create("/appears", b"", bob_only(), 0, None).await.unwrap();
    for r in [
        mallory.get_data("/locked", true).await.map(|_| ()),
        mallory.get_children("/locked", true).await.map(|_| ()),
        mallory.exists("/locked", true).await.map(|_| ()),
    ] {
        assert_eq!(r, Err(ClientError::Keeper(KeeperError::NoAuth)));
    }
    bob.delete("/locked/child", -1).await.unwrap();
    bob.delete("/locked", -1).await.unwrap();
    mallory.get_data("/open", true).await.unwrap();
    bob.set_data("/open", b"control", -1).await.unwrap();
    let ev = next(&mut events).await;
    assert_eq!((ev.event_type, ev.path.as_str()), (EventType::NodeDataChanged, "/open"));
}

/// setWatches (sent by a client on reconnect, or by anyone at any time) with a relative
/// zxid of 0 would make every watched node look changed: for unreadable nodes nothing is
/// fired (ZooKeeper fires NodeDataChanged/NodeChildrenChanged/NodeCreated unchecked), and
/// the armed watches stay silent when the nodes change later.
#[tokio::test]
async fn set_watches_reveals_nothing_unreadable() {
    let (addr, _stop) = start_server("").await;
    let bob = setup(addr).await;
    let (mallory, mut events) = client(addr).await;
    let paths = vec!["/locked".to_string(), "/locked/child".to_string()];
    let set = Request::SetWatches(Box::new(keeper_core::proto::SetWatches {
        relative_zxid: Zxid::ZERO,
        data: paths.clone(),
        exist: paths.clone(),
        child: paths.clone(),
        persistent: paths.clone(),
        persistent_recursive: paths,
        v2: true,
    }));
    mallory.request(set).await.unwrap();
    bob.set_data("/locked/child", b"t", -1).await.unwrap();
    bob.create("/locked/other", b"", bob_only(), 0, None).await.unwrap();
    // The control: a catch-up event for a readable node that changed.
    let set_open = Request::SetWatches(Box::new(keeper_core::proto::SetWatches {
        relative_zxid: Zxid::ZERO,
        data: vec!["/open".into()],
        exist: vec![],
        child: vec![],
        persistent: vec![],
        persistent_recursive: vec![],
        v2: true,
    }));
    mallory.request(set_open).await.unwrap();
    let ev = next(&mut events).await;
    assert_eq!((ev.event_type, ev.path.as_str()), (EventType::NodeDataChanged, "/open"));
}
