//! Runs the client against a real server named by `KEEPER_TEST_SERVER` (host:port), e.g.
//! Apache ZooKeeper or keeper itself; skips with a message when the variable is unset.
//! Checks what a client observes: create/get/set/delete with version checks, error codes
//! as `ClientError::Keeper`, one-shot data watches (ZooKeeper Programmer's Guide,
//! "ZooKeeper Watches"), pipelined requests, and a clean closeSession.

use std::time::Duration;

use keeper_core::error::KeeperError;
use keeper_core::proto::{Acl, EventType};
use keeper_net::client::{connect, ClientError};

fn server() -> Option<String> {
    match std::env::var("KEEPER_TEST_SERVER") {
        Ok(s) if !s.is_empty() => Some(s),
        _ => {
            println!("skipped: set KEEPER_TEST_SERVER=host:port to run against a server");
            None
        }
    }
}

#[tokio::test]
async fn create_get_set_delete_and_watch() {
    let Some(addr) = server() else { return };
    let (client, mut watches) = connect(&[addr], Duration::from_secs(10)).await.unwrap();
    assert!(client.session().timeout_ms > 0);
    let root = format!("/keeper-client-test-{:x}", client.session().id.0);

    let (path, stat) = client.create(&root, b"x", Acl::open_unsafe(), 0, None).await.unwrap();
    assert_eq!(path, root);
    assert_eq!(stat.version, 0);
    assert_eq!(
        client.create(&root, b"y", Acl::open_unsafe(), 0, None).await,
        Err(ClientError::Keeper(KeeperError::NodeExists))
    );

    let (data, _) = client.get_data(&root, true).await.unwrap();
    assert_eq!(data.as_deref(), Some(&b"x"[..]));
    assert_eq!(
        client.set_data(&root, b"z", 7).await,
        Err(ClientError::Keeper(KeeperError::BadVersion))
    );
    let stat = client.set_data(&root, b"z", 0).await.unwrap();
    assert_eq!(stat.version, 1);
    let event = tokio::time::timeout(Duration::from_secs(5), watches.recv())
        .await
        .expect("watch fired")
        .expect("channel open");
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    assert_eq!(event.path, root);

    let seq = format!("{root}/s-");
    let (child, _) = client.create(&seq, b"", Acl::open_unsafe(), 2, None).await.unwrap();
    assert_eq!(child.len(), seq.len() + 10, "sequential suffix is ten digits: {child}");
    let (children, stat) = client.get_children(&root, false).await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(stat.num_children, 1);
    assert_eq!(client.delete(&root, -1).await, Err(ClientError::Keeper(KeeperError::NotEmpty)));
    client.delete(&child, -1).await.unwrap();
    client.delete(&root, -1).await.unwrap();
    assert_eq!(client.exists(&root, false).await, Ok(None));

    client.close().await.unwrap();
    assert!(matches!(client.exists("/", false).await, Err(ClientError::ConnectionLoss(_))));
}

#[tokio::test]
async fn pipelined_requests_answer_in_order() {
    let Some(addr) = server() else { return };
    let (client, _watches) = connect(&[addr], Duration::from_secs(10)).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let c = client.clone();
        tasks.spawn(async move { c.exists("/", false).await });
    }
    while let Some(done) = tasks.join_next().await {
        assert!(done.unwrap().unwrap().is_some());
    }
    client.close().await.unwrap();
}
