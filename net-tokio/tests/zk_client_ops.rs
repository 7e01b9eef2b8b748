//! Client operations end to end: a real keeper server on 127.0.0.1:0 driven by the
//! independent `zookeeper-client` crate, one test per ZooKeeper behaviour.
//!
//! Each test starts its own server with its own temp dataDir (two servers may never share
//! one), so tests are independent and may run in parallel. Waits for events are bounded by
//! a timeout so a missing notification fails the test instead of hanging it.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

mod common;
use zookeeper_client as zk;
use zookeeper_client::{Acl, Acls, AddWatchMode, AuthId, CreateMode, EventType, Permission};

/// The super digest kazoo and the zookeeper-client crate use (password `test`).
const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";

/// A running test server: its address and the stop switch (dropping it stops the server).
struct Server {
    addr: std::net::SocketAddr,
    _stop: watch::Sender<bool>,
}

impl Server {
    /// Starts a standalone server with TTL nodes, the super digest and fast container checks.
    async fn start() -> Server {
        let extra = format!(
            "extendedTypesEnabled=true\nznode.container.checkIntervalMs=100\n\
             4lw.commands.whitelist=*\nDigestAuthenticationProvider.superDigest={SUPER_DIGEST}\n"
        );
        let (addr, stop) = common::start_server(&extra).await;
        Server { addr, _stop: stop }
    }

    /// The `Total watches:` count of the `wchs` four-letter word.
    async fn total_watches(&self) -> usize {
        let text = common::four_letter(self.addr, "wchs").await;
        let total = text.lines().find_map(|l| l.strip_prefix("Total watches:"));
        total.and_then(|t| t.trim().parse().ok()).unwrap_or_else(|| panic!("wchs: {text:?}"))
    }

    /// A fresh session on this server.
    async fn client(&self) -> zk::Client {
        within(zk::Client::connect(&self.addr.to_string())).await.expect("client connects")
    }
}

/// Awaits `f`, failing the test if it takes more than five seconds.
async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f).await.expect("timed out")
}

/// Polls `check` every 20ms until it is true; fails after five seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn persistent() -> zk::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

fn mode(m: CreateMode) -> zk::CreateOptions<'static> {
    m.with_acls(Acls::anyone_all())
}

/// A persistent node has the data, version 0 and no ephemeral owner.
#[tokio::test]
async fn create_persistent() {
    let server = Server::start().await;
    let c = server.client().await;
    let (stat, _) = c.create("/p", b"data", &persistent()).await.unwrap();
    assert_eq!((stat.version, stat.ephemeral_owner, stat.data_length), (0, 0, 4));
    let (data, got) = c.get_data("/p").await.unwrap();
    assert_eq!(data, b"data");
    assert_eq!(got, stat);
}

/// An ephemeral node is owned by the creating session.
#[tokio::test]
async fn create_ephemeral_owned_by_session() {
    let server = Server::start().await;
    let c = server.client().await;
    let (stat, _) = c.create("/e", b"", &mode(CreateMode::Ephemeral)).await.unwrap();
    assert_eq!(stat.ephemeral_owner, c.session_id().0);
}

/// Sequential nodes get the parent's cversion as a 10-digit zero-padded suffix.
#[tokio::test]
async fn create_sequential_ten_digit_suffix() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/s", b"", &persistent()).await.unwrap();
    let seq = mode(CreateMode::PersistentSequential);
    let (_, a) = c.create("/s/n-", b"", &seq).await.unwrap();
    let (_, b) = c.create("/s/n-", b"", &seq).await.unwrap();
    assert_eq!(a.to_string(), "0000000000");
    assert_eq!(b.to_string(), "0000000001");
    let mut children = c.list_children("/s").await.unwrap();
    children.sort();
    assert_eq!(children, ["n-0000000000", "n-0000000001"]);
}

/// A container node reports ephemeralOwner 0 to clients and holds children.
#[tokio::test]
async fn create_container() {
    let server = Server::start().await;
    let c = server.client().await;
    let (stat, _) = c.create("/c", b"x", &mode(CreateMode::Container)).await.unwrap();
    assert_eq!(stat.ephemeral_owner, 0);
    c.create("/c/child", b"", &persistent()).await.unwrap();
    assert_eq!(c.list_children("/c").await.unwrap(), ["child"]);
}

/// A TTL node (createTTL, extendedTypesEnabled) reports ephemeralOwner 0 and is readable.
#[tokio::test]
async fn create_ttl() {
    let server = Server::start().await;
    let c = server.client().await;
    let opts = persistent().with_ttl(Duration::from_secs(3600));
    let (stat, _) = c.create("/t", b"ttl", &opts).await.unwrap();
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(c.get_data("/t").await.unwrap().0, b"ttl");
}

/// A TTL node that is empty and older than its TTL is deleted by the server.
#[tokio::test]
async fn ttl_node_expires() {
    let server = Server::start().await;
    let c = server.client().await;
    let opts = persistent().with_ttl(Duration::from_millis(100));
    c.create("/t", b"", &opts).await.unwrap();
    eventually("TTL node removal", || async { c.check_stat("/t").await.unwrap().is_none() }).await;
}

/// Creating an existing path fails with NodeExists.
#[tokio::test]
async fn create_existing_is_node_exists() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/x", b"", &persistent()).await.unwrap();
    assert_eq!(c.create("/x", b"", &persistent()).await.unwrap_err(), zk::Error::NodeExists);
}

/// Creating under a missing parent fails with NoNode.
#[tokio::test]
async fn create_without_parent_is_no_node() {
    let server = Server::start().await;
    let c = server.client().await;
    assert_eq!(c.create("/no/child", b"", &persistent()).await.unwrap_err(), zk::Error::NoNode);
}

/// Ephemeral nodes cannot have children.
#[tokio::test]
async fn create_under_ephemeral_is_no_children_for_ephemerals() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/e", b"", &mode(CreateMode::Ephemeral)).await.unwrap();
    let err = c.create("/e/c", b"", &persistent()).await.unwrap_err();
    assert_eq!(err, zk::Error::NoChildrenForEphemerals);
}

/// setData bumps the version; a stale expected version fails with BadVersion and changes nothing.
#[tokio::test]
async fn set_data_versions_and_bad_version() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/v", b"0", &persistent()).await.unwrap();
    let stat = c.set_data("/v", b"1", Some(0)).await.unwrap();
    assert_eq!(stat.version, 1);
    let stat = c.set_data("/v", b"2", None).await.unwrap();
    assert_eq!(stat.version, 2);
    assert_eq!(c.set_data("/v", b"3", Some(1)).await.unwrap_err(), zk::Error::BadVersion);
    let (data, stat) = c.get_data("/v").await.unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"2"[..], 2));
    assert_eq!(c.set_data("/missing", b"", None).await.unwrap_err(), zk::Error::NoNode);
}

/// delete honours the version, refuses non-empty nodes and reports missing ones.
#[tokio::test]
async fn delete_version_not_empty_no_node() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/d", b"", &persistent()).await.unwrap();
    c.create("/d/k", b"", &persistent()).await.unwrap();
    assert_eq!(c.delete("/d", None).await.unwrap_err(), zk::Error::NotEmpty);
    assert_eq!(c.delete("/d/k", Some(5)).await.unwrap_err(), zk::Error::BadVersion);
    c.delete("/d/k", Some(0)).await.unwrap();
    c.delete("/d", None).await.unwrap();
    assert_eq!(c.delete("/d", None).await.unwrap_err(), zk::Error::NoNode);
    assert!(c.check_stat("/d").await.unwrap().is_none());
}

/// exists on a missing path answers "no node" (None), not an error.
#[tokio::test]
async fn exists_on_missing_is_none() {
    let server = Server::start().await;
    let c = server.client().await;
    assert_eq!(c.check_stat("/nothing").await.unwrap(), None);
    assert_eq!(c.get_data("/nothing").await.unwrap_err(), zk::Error::NoNode);
}

/// getChildren2 returns the children and the parent's stat (numChildren, cversion).
#[tokio::test]
async fn get_children_with_stat() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/g", b"", &persistent()).await.unwrap();
    for name in ["b", "a", "c"] {
        c.create(&format!("/g/{name}"), b"", &persistent()).await.unwrap();
    }
    c.delete("/g/c", None).await.unwrap();
    let (mut children, stat) = c.get_children("/g").await.unwrap();
    children.sort();
    assert_eq!(children, ["a", "b"]);
    assert_eq!((stat.num_children, stat.cversion), (2, 4));
    assert_eq!(c.get_children("/none").await.unwrap_err(), zk::Error::NoNode);
}

/// A successful multi applies every op and returns one result per op.
#[tokio::test]
async fn multi_success() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/m", b"", &persistent()).await.unwrap();
    let mut w = c.new_multi_writer();
    w.add_create("/m/a", b"a", &persistent()).unwrap();
    w.add_set_data("/m", b"top", Some(0)).unwrap();
    w.add_check_version("/m", 1).unwrap();
    w.add_create("/m/b", b"b", &persistent()).unwrap();
    w.add_delete("/m/b", Some(0)).unwrap();
    let results = w.commit().await.unwrap();
    assert_eq!(results.len(), 5);
    assert!(matches!(&results[0], zk::MultiWriteResult::Create { path, .. } if path == "/m/a"));
    assert!(matches!(&results[1], zk::MultiWriteResult::SetData { stat } if stat.version == 1));
    assert_eq!(results[2], zk::MultiWriteResult::Check);
    assert_eq!(results[4], zk::MultiWriteResult::Delete);
    assert_eq!(c.get_data("/m").await.unwrap().0, b"top");
    assert_eq!(c.list_children("/m").await.unwrap(), ["a"]);
}

/// A multi whose later op fails reports that op's error and applies nothing.
#[tokio::test]
async fn multi_failure_changes_nothing() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/m", b"orig", &persistent()).await.unwrap();
    let mut w = c.new_multi_writer();
    w.add_create("/m/a", b"", &persistent()).unwrap();
    w.add_set_data("/m", b"changed", None).unwrap();
    w.add_delete("/absent", None).unwrap();
    let err = w.commit().await.unwrap_err();
    assert_eq!(err, zk::MultiWriteError::OperationFailed { index: 2, source: zk::Error::NoNode });
    let (data, stat) = c.get_data("/m").await.unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"orig"[..], 0));
    assert!(c.list_children("/m").await.unwrap().is_empty());
}

/// A failing check inside a multi aborts the whole transaction with BadVersion.
#[tokio::test]
async fn multi_check_version_failure() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/k", b"", &persistent()).await.unwrap();
    let mut w = c.new_multi_writer();
    w.add_check_version("/k", 7).unwrap();
    w.add_create("/k/x", b"", &persistent()).unwrap();
    let err = w.commit().await.unwrap_err();
    assert_eq!(
        err,
        zk::MultiWriteError::OperationFailed { index: 0, source: zk::Error::BadVersion }
    );
    assert_eq!(c.check_stat("/k/x").await.unwrap(), None);
    let mut w = c.new_multi_writer();
    w.add_check_version("/nope", 0).unwrap();
    let err = w.commit().await.unwrap_err();
    assert_eq!(err, zk::MultiWriteError::OperationFailed { index: 0, source: zk::Error::NoNode });
}

/// multiRead answers each read independently; a missing node is an error entry, not a failure.
#[tokio::test]
async fn multi_read() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/r", b"rd", &persistent()).await.unwrap();
    c.create("/r/c", b"", &persistent()).await.unwrap();
    let mut r = c.new_multi_reader();
    r.add_get_data("/r").unwrap();
    r.add_get_children("/r").unwrap();
    r.add_get_data("/missing").unwrap();
    let results = r.commit().await.unwrap();
    assert_eq!(results.len(), 3);
    assert!(matches!(&results[0], zk::MultiReadResult::Data { data, stat }
        if data == b"rd" && stat.num_children == 1));
    assert!(
        matches!(&results[1], zk::MultiReadResult::Children { children } if children == &["c"])
    );
    assert!(matches!(&results[2], zk::MultiReadResult::Error { err: zk::Error::NoNode }));
}

/// getACL returns what create set; setACL checks aversion; a read-only ACL refuses writes.
#[tokio::test]
async fn get_set_acl_and_no_auth() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/a", b"", &persistent()).await.unwrap();
    let (acl, stat) = c.get_acl("/a").await.unwrap();
    assert_eq!(acl, [Acl::new(Permission::ALL, AuthId::anyone())]);
    assert_eq!(stat.aversion, 0);
    let read_only = [Acl::new(Permission::READ, AuthId::anyone())];
    assert_eq!(c.set_acl("/a", &read_only, Some(3)).await.unwrap_err(), zk::Error::BadVersion);
    let stat = c.set_acl("/a", &read_only, Some(0)).await.unwrap();
    assert_eq!(stat.aversion, 1);
    assert_eq!(c.get_acl("/a").await.unwrap().0, read_only);
    assert_eq!(c.get_data("/a").await.unwrap().0, b"");
    assert_eq!(c.set_data("/a", b"w", None).await.unwrap_err(), zk::Error::NoAuth);
    let err = c.create("/a/child", b"", &persistent()).await.unwrap_err();
    assert_eq!(err, zk::Error::NoAuth);
    // setACL needs ADMIN, which world no longer has.
    let all = [Acl::new(Permission::ALL, AuthId::anyone())];
    assert_eq!(c.set_acl("/a", &all, None).await.unwrap_err(), zk::Error::NoAuth);
}

/// A node created with the `auth` ACL gets the creator's digest id; only that user gets in.
#[tokio::test]
async fn digest_auth_grants_access() {
    let server = Server::start().await;
    let owner = server.client().await;
    owner.auth("digest", b"alice:secret").await.unwrap();
    owner
        .create("/s", b"private", &CreateMode::Persistent.with_acls(Acls::creator_all()))
        .await
        .unwrap();
    let (acl, _) = owner.get_acl("/s").await.unwrap();
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].scheme(), "digest");
    assert!(acl[0].id().starts_with("alice:"), "{acl:?}");
    assert_eq!(acl[0].permission(), Permission::ALL);

    let stranger = server.client().await;
    assert_eq!(stranger.get_data("/s").await.unwrap_err(), zk::Error::NoAuth);
    let wrong = server.client().await;
    wrong.auth("digest", b"alice:wrong").await.unwrap();
    assert_eq!(wrong.get_data("/s").await.unwrap_err(), zk::Error::NoAuth);
    let friend = server.client().await;
    friend.auth("digest", b"alice:secret").await.unwrap();
    assert_eq!(friend.get_data("/s").await.unwrap().0, b"private");
}

/// The `auth` ACL without any authenticated id is InvalidACL.
#[tokio::test]
async fn creator_acl_without_auth_is_invalid_acl() {
    let server = Server::start().await;
    let c = server.client().await;
    let opts = CreateMode::Persistent.with_acls(Acls::creator_all());
    assert_eq!(c.create("/x", b"", &opts).await.unwrap_err(), zk::Error::InvalidAcl);
}

/// The super digest (`super:test`) bypasses every ACL check.
#[tokio::test]
async fn super_digest_bypasses_acls() {
    let server = Server::start().await;
    let owner = server.client().await;
    owner.auth("digest", b"alice:secret").await.unwrap();
    owner
        .create("/locked", b"x", &CreateMode::Persistent.with_acls(Acls::creator_all()))
        .await
        .unwrap();

    let admin = server.client().await;
    admin.auth("digest", b"super:test").await.unwrap();
    assert_eq!(admin.get_data("/locked").await.unwrap().0, b"x");
    admin.set_data("/locked", b"y", None).await.unwrap();
    admin.create("/locked/c", b"", &persistent()).await.unwrap();
    admin.delete("/locked/c", None).await.unwrap();
    admin.set_acl("/locked", &[Acl::new(Permission::READ, AuthId::anyone())], None).await.unwrap();
    let anyone = server.client().await;
    assert_eq!(anyone.get_data("/locked").await.unwrap().0, b"y");
}

/// getEphemerals lists this session's ephemerals only, filtered by path prefix.
#[tokio::test]
async fn get_ephemerals() {
    let server = Server::start().await;
    let c = server.client().await;
    let other = server.client().await;
    c.create("/eph", b"", &persistent()).await.unwrap();
    c.create("/eph/a", b"", &mode(CreateMode::Ephemeral)).await.unwrap();
    c.create("/eph/b", b"", &mode(CreateMode::Ephemeral)).await.unwrap();
    c.create("/other", b"", &mode(CreateMode::Ephemeral)).await.unwrap();
    other.create("/eph/z", b"", &mode(CreateMode::Ephemeral)).await.unwrap();
    let mut all = c.list_ephemerals("/").await.unwrap();
    all.sort();
    assert_eq!(all, ["/eph/a", "/eph/b", "/other"]);
    let mut under = c.list_ephemerals("/eph").await.unwrap();
    under.sort();
    assert_eq!(under, ["/eph/a", "/eph/b"]);
    assert_eq!(other.list_ephemerals("/").await.unwrap(), ["/eph/z"]);
}

/// getAllChildrenNumber counts all descendants, not the node itself.
#[tokio::test]
async fn get_all_children_number() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/n", b"", &persistent()).await.unwrap();
    c.create("/n/a", b"", &persistent()).await.unwrap();
    c.create("/n/a/b", b"", &persistent()).await.unwrap();
    c.create("/n/c", b"", &persistent()).await.unwrap();
    assert_eq!(c.count_descendants_number("/n").await.unwrap(), 3);
    assert_eq!(c.count_descendants_number("/n/c").await.unwrap(), 0);
    assert_eq!(c.count_descendants_number("/zz").await.unwrap_err(), zk::Error::NoNode);
}

/// whoAmI reports the implicit ip id, and the digest user name (the part before the colon,
/// as DigestAuthenticationProvider.getUserName answers) after addAuth.
#[tokio::test]
async fn who_am_i() {
    let server = Server::start().await;
    let c = server.client().await;
    let users = c.list_auth_users().await.unwrap();
    assert!(users.contains(&zk::AuthUser::new("ip", "127.0.0.1")), "{users:?}");
    c.auth("digest", b"bob:xyz").await.unwrap();
    let users = c.list_auth_users().await.unwrap();
    assert!(users.contains(&zk::AuthUser::new("digest", "bob")), "{users:?}");
}

/// sync succeeds on an existing path and data written before it is visible after it.
#[tokio::test]
async fn sync_then_read() {
    let server = Server::start().await;
    let writer = server.client().await;
    let reader = server.client().await;
    writer.create("/y", b"v", &persistent()).await.unwrap();
    reader.sync("/y").await.unwrap();
    assert_eq!(reader.get_data("/y").await.unwrap().0, b"v");
}

/// A data watch fires once with NodeDataChanged on setData from another session.
#[tokio::test]
async fn data_watch_fires_on_set() {
    let server = Server::start().await;
    let c = server.client().await;
    let other = server.client().await;
    c.create("/w", b"", &persistent()).await.unwrap();
    let (_, _, watcher) = c.get_and_watch_data("/w").await.unwrap();
    other.set_data("/w", b"new", None).await.unwrap();
    let event = within(watcher.changed()).await;
    assert_eq!((event.event_type, event.path.as_str()), (EventType::NodeDataChanged, "/w"));
    // One-shot: the server dropped the watch when it fired.
    assert_eq!(server.total_watches().await, 0);
}

/// A data watch fires NodeDeleted when the node is deleted.
#[tokio::test]
async fn data_watch_fires_on_delete() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/w", b"", &persistent()).await.unwrap();
    let (_, _, watcher) = c.get_and_watch_data("/w").await.unwrap();
    c.delete("/w", None).await.unwrap();
    let event = within(watcher.changed()).await;
    assert_eq!((event.event_type, event.path.as_str()), (EventType::NodeDeleted, "/w"));
}

/// An exists watch on a missing node fires NodeCreated.
#[tokio::test]
async fn exist_watch_fires_on_create() {
    let server = Server::start().await;
    let c = server.client().await;
    let (stat, watcher) = c.check_and_watch_stat("/later").await.unwrap();
    assert!(stat.is_none());
    c.create("/later", b"", &persistent()).await.unwrap();
    let event = within(watcher.changed()).await;
    assert_eq!((event.event_type, event.path.as_str()), (EventType::NodeCreated, "/later"));
}

/// A child watch fires NodeChildrenChanged on the parent path, and only once.
#[tokio::test]
async fn child_watch_fires_once() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/cw", b"", &persistent()).await.unwrap();
    let (_, watcher) = c.list_and_watch_children("/cw").await.unwrap();
    c.create("/cw/1", b"", &persistent()).await.unwrap();
    let event = within(watcher.changed()).await;
    assert_eq!((event.event_type, event.path.as_str()), (EventType::NodeChildrenChanged, "/cw"));
    // Setting data on the parent does not trigger a child watch; a fresh one sees the next child.
    let (_, watcher) = c.list_and_watch_children("/cw").await.unwrap();
    c.set_data("/cw", b"d", None).await.unwrap();
    c.create("/cw/2", b"", &persistent()).await.unwrap();
    let event = within(watcher.changed()).await;
    assert_eq!(event.event_type, EventType::NodeChildrenChanged);
}

/// A persistent watch (addWatch PERSISTENT) fires for every change to the node, not its children.
#[tokio::test]
async fn persistent_watch_fires_repeatedly() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/pw", b"", &persistent()).await.unwrap();
    let mut watcher = c.watch("/pw", AddWatchMode::Persistent).await.unwrap();
    c.set_data("/pw", b"1", None).await.unwrap();
    c.set_data("/pw", b"2", None).await.unwrap();
    c.create("/pw/kid", b"", &persistent()).await.unwrap();
    c.delete("/pw/kid", None).await.unwrap();
    c.delete("/pw", None).await.unwrap();
    c.create("/pw", b"", &persistent()).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..6 {
        let e = within(watcher.changed()).await;
        got.push((e.event_type, e.path));
    }
    let p = || "/pw".to_string();
    assert_eq!(
        got,
        [
            (EventType::NodeDataChanged, p()),
            (EventType::NodeDataChanged, p()),
            (EventType::NodeChildrenChanged, p()),
            (EventType::NodeChildrenChanged, p()),
            (EventType::NodeDeleted, p()),
            (EventType::NodeCreated, p()),
        ]
    );
}

/// A persistent recursive watch fires for the node and every descendant, without child events.
#[tokio::test]
async fn persistent_recursive_watch_fires_for_descendants() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/rw", b"", &persistent()).await.unwrap();
    let mut watcher = c.watch("/rw", AddWatchMode::PersistentRecursive).await.unwrap();
    c.create("/rw/a", b"", &persistent()).await.unwrap();
    c.create("/rw/a/b", b"", &persistent()).await.unwrap();
    c.set_data("/rw/a/b", b"x", None).await.unwrap();
    c.delete("/rw/a/b", None).await.unwrap();
    c.set_data("/rw", b"y", None).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        let e = within(watcher.changed()).await;
        got.push((e.event_type, e.path));
    }
    let s = |p: &str| p.to_string();
    assert_eq!(
        got,
        [
            (EventType::NodeCreated, s("/rw/a")),
            (EventType::NodeCreated, s("/rw/a/b")),
            (EventType::NodeDataChanged, s("/rw/a/b")),
            (EventType::NodeDeleted, s("/rw/a/b")),
            (EventType::NodeDataChanged, s("/rw")),
        ]
    );
}

/// removeWatches removes the watch on the server: the server's `wchs` count drops back to 0,
/// for a data watch, an exists watch and a persistent watch alike.
#[tokio::test]
#[allow(deprecated)]
async fn remove_watches() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/rm", b"", &persistent()).await.unwrap();
    let (_, _, watcher) = c.get_and_watch_data("/rm").await.unwrap();
    assert_eq!(server.total_watches().await, 1);
    within(watcher.remove()).await.unwrap();
    assert_eq!(server.total_watches().await, 0);
    // wchs counts the data-side tables only (as ZooKeeper does), so use an exists watch.
    let (_, watcher) = c.check_and_watch_stat("/rm").await.unwrap();
    assert_eq!(server.total_watches().await, 1);
    within(watcher.remove()).await.unwrap();
    assert_eq!(server.total_watches().await, 0);
    let mut pw = c.watch("/rm", AddWatchMode::Persistent).await.unwrap();
    c.set_data("/rm", b"1", None).await.unwrap();
    let e = within(pw.changed()).await;
    assert_eq!((e.event_type, e.path.as_str()), (EventType::NodeDataChanged, "/rm"));
    assert_eq!(server.total_watches().await, 1);
    within(pw.remove()).await.unwrap();
    assert_eq!(server.total_watches().await, 0);
}

/// Closing a session deletes its ephemerals; another session sees NodeDeleted and no node.
#[tokio::test]
async fn session_close_removes_ephemerals() {
    let server = Server::start().await;
    let observer = server.client().await;
    let owner = server.client().await;
    owner.create("/gone", b"", &mode(CreateMode::Ephemeral)).await.unwrap();
    owner.create("/kept", b"", &persistent()).await.unwrap();
    let (stat, watcher) = observer.check_and_watch_stat("/gone").await.unwrap();
    assert!(stat.is_some());
    drop(owner);
    let event = within(watcher.changed()).await;
    assert_eq!((event.event_type, event.path.as_str()), (EventType::NodeDeleted, "/gone"));
    assert_eq!(observer.check_stat("/gone").await.unwrap(), None);
    assert!(observer.check_stat("/kept").await.unwrap().is_some());
}

/// A container is reaped once its last child is deleted (checkIntervalMs=100).
#[tokio::test]
async fn container_reaped_after_last_child_deleted() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/box", b"", &mode(CreateMode::Container)).await.unwrap();
    c.create("/box/item", b"", &persistent()).await.unwrap();
    c.delete("/box/item", None).await.unwrap();
    eventually("container removal", || async { c.check_stat("/box").await.unwrap().is_none() })
        .await;
}

/// Ephemeral sequential nodes combine both: owned by the session, 10-digit suffix.
#[tokio::test]
async fn create_ephemeral_sequential() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/q", b"", &persistent()).await.unwrap();
    c.create("/q/x", b"", &persistent()).await.unwrap();
    let (stat, seq) =
        c.create("/q/lock-", b"", &mode(CreateMode::EphemeralSequential)).await.unwrap();
    assert_eq!(seq.to_string(), "0000000001");
    assert_eq!(stat.ephemeral_owner, c.session_id().0);
    assert!(c.check_stat("/q/lock-0000000001").await.unwrap().is_some());
}

/// Stat zxids move as ZooKeeper says: setData moves mzxid, a child create moves pzxid.
#[tokio::test]
async fn stat_zxids_track_changes() {
    let server = Server::start().await;
    let c = server.client().await;
    let (created, _) = c.create("/z", b"", &persistent()).await.unwrap();
    assert_eq!(
        (created.czxid, created.mzxid, created.pzxid),
        (created.czxid, created.czxid, created.czxid)
    );
    assert_eq!(created.ctime, created.mtime);
    let set = c.set_data("/z", b"1", None).await.unwrap();
    assert!(set.mzxid > created.mzxid);
    assert_eq!((set.czxid, set.pzxid), (created.czxid, created.pzxid));
    let (child, _) = c.create("/z/c", b"", &persistent()).await.unwrap();
    let parent = c.check_stat("/z").await.unwrap().unwrap();
    assert_eq!(parent.pzxid, child.czxid);
    assert_eq!((parent.mzxid, parent.cversion, parent.num_children), (set.mzxid, 1, 1));
}

/// An ACL with an unknown scheme is InvalidACL; setACL on a missing node is NoNode.
#[tokio::test]
async fn invalid_acl_and_set_acl_no_node() {
    let server = Server::start().await;
    let c = server.client().await;
    let bogus = [Acl::new(Permission::ALL, AuthId::new("bogus", "x"))];
    let opts = CreateMode::Persistent.with_acls(Acls::new(&bogus));
    assert_eq!(c.create("/x", b"", &opts).await.unwrap_err(), zk::Error::InvalidAcl);
    let all = [Acl::new(Permission::ALL, AuthId::anyone())];
    assert_eq!(c.set_acl("/x", &all, None).await.unwrap_err(), zk::Error::NoNode);
    assert_eq!(c.get_acl("/x").await.unwrap_err(), zk::Error::NoNode);
}

/// A digest ACL given explicitly (user:base64(sha1(user:password))) admits that user only;
/// getACL needs READ or ADMIN, and without ADMIN it masks digest ids to `user:x`.
#[tokio::test]
async fn explicit_digest_acl_and_masked_get_acl() {
    let server = Server::start().await;
    // Learn carol's digest id from a node she owns (the server computes it).
    let carol = server.client().await;
    carol.auth("digest", b"carol:pw").await.unwrap();
    carol
        .create("/own", b"", &CreateMode::Persistent.with_acls(Acls::creator_all()))
        .await
        .unwrap();
    let id = carol.get_acl("/own").await.unwrap().0[0].id().to_string();
    assert!(id.starts_with("carol:") && id != "carol:x" && id != "carol:pw", "{id}");

    let c = server.client().await;
    let acl = [Acl::new(Permission::READ, AuthId::new("digest", &id))];
    c.create("/dg", b"d", &CreateMode::Persistent.with_acls(Acls::new(&acl))).await.unwrap();
    assert_eq!(c.get_data("/dg").await.unwrap_err(), zk::Error::NoAuth);
    assert_eq!(c.get_acl("/dg").await.unwrap_err(), zk::Error::NoAuth);
    assert_eq!(carol.get_data("/dg").await.unwrap().0, b"d");
    let masked = [Acl::new(Permission::READ, AuthId::new("digest", "carol:x"))];
    assert_eq!(carol.get_acl("/dg").await.unwrap().0, masked);
}

/// A child watch fires NodeDeleted (not NodeChildrenChanged) when the watched node is deleted.
#[tokio::test]
async fn child_watch_fires_node_deleted() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/cd", b"", &persistent()).await.unwrap();
    let (_, watcher) = c.list_and_watch_children("/cd").await.unwrap();
    c.delete("/cd", None).await.unwrap();
    let event = within(watcher.changed()).await;
    assert_eq!((event.event_type, event.path.as_str()), (EventType::NodeDeleted, "/cd"));
}

/// A container that never had a child is not reaped, while a used-then-emptied one is.
#[tokio::test]
async fn never_used_container_is_kept() {
    let server = Server::start().await;
    let c = server.client().await;
    c.create("/fresh", b"", &mode(CreateMode::Container)).await.unwrap();
    c.create("/used", b"", &mode(CreateMode::Container)).await.unwrap();
    c.create("/used/x", b"", &persistent()).await.unwrap();
    c.delete("/used/x", None).await.unwrap();
    eventually("used container removal", || async {
        c.check_stat("/used").await.unwrap().is_none()
    })
    .await;
    // The pass that reaped /used also saw /fresh (created earlier) and kept it.
    assert!(c.check_stat("/fresh").await.unwrap().is_some());
}

/// A TTL node that still has a child is not expired, while an empty one is.
#[tokio::test]
async fn ttl_node_with_child_is_kept() {
    let server = Server::start().await;
    let c = server.client().await;
    let opts = persistent().with_ttl(Duration::from_millis(100));
    c.create("/full", b"", &opts).await.unwrap();
    c.create("/full/kid", b"", &persistent()).await.unwrap();
    c.create("/empty", b"", &opts).await.unwrap();
    eventually("empty TTL node removal", || async {
        c.check_stat("/empty").await.unwrap().is_none()
    })
    .await;
    assert!(c.check_stat("/full").await.unwrap().is_some());
}

/// addAuth with an unknown scheme fails with AuthFailed.
#[tokio::test]
async fn auth_unknown_scheme_fails() {
    let server = Server::start().await;
    let c = server.client().await;
    assert_eq!(within(c.auth("bogus", b"x")).await.unwrap_err(), zk::Error::AuthFailed);
}
