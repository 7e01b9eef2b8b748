//! The bound on one session's watches (`maxWatchBytesPerSession`, docs/security.md),
//! against a real server: a client registering watches without end is refused with
//! QUOTAEXCEEDED at exactly the bound, the server and other clients go on, and watches
//! that fire or are removed make room again. ZooKeeper has no such bound.

use std::time::Duration;

mod common;

use common::{four_letter, start_server};
use keeper_core::error::KeeperError;
use keeper_core::proto::{Acl, AddWatchMode, Request, Response};
use keeper_core::watch::watch_cost;
use keeper_net::client::{connect, Client, ClientError};

const LIMIT: usize = 12_000;

async fn client(
    addr: std::net::SocketAddr,
) -> (Client, tokio::sync::mpsc::UnboundedReceiver<keeper_core::proto::WatchedEvent>) {
    connect(&[addr.to_string()], Duration::from_secs(30)).await.unwrap()
}

fn quota<T: std::fmt::Debug>(r: Result<T, ClientError>) {
    assert!(
        matches!(r, Err(ClientError::Keeper(KeeperError::QuotaExceeded))),
        "expected QUOTAEXCEEDED: {r:?}"
    );
}

#[tokio::test]
async fn a_session_cannot_hold_more_watches_than_its_bound() {
    let cfg = format!("maxWatchBytesPerSession={LIMIT}\n4lw.commands.whitelist=*");
    let (addr, _stop) = start_server(&cfg).await;
    let (greedy, mut events) = client(addr).await;
    let (other, _) = client(addr).await;
    other.create("/w", b"", Acl::open_unsafe(), 0, None).await.unwrap();
    // exists-watches on absent nodes, until refused.
    let fit = LIMIT / watch_cost("/w/000");
    let mut armed = 0;
    for i in 0..1000 {
        match greedy.exists(&format!("/w/{i:03}"), true).await {
            Ok(None) => armed += 1,
            other => {
                quota(other);
                break;
            }
        }
    }
    assert_eq!(armed, fit, "every watch that fits, and not one more");
    let wchs = four_letter(addr, "wchs").await;
    assert!(wchs.contains(&format!("Total watches:{fit}")), "{wchs}");
    // The refusal is per request: the connection and other clients go on.
    quota(greedy.get_data("/w", true).await);
    let add =
        Request::AddWatch { path: "/w".into(), mode: AddWatchMode::PersistentRecursive as i32 };
    quota(greedy.request(add.clone()).await);
    assert!(greedy.get_data("/w", false).await.is_ok(), "reads without a watch still work");
    assert!(other.exists("/w/999", true).await.unwrap().is_none(), "the bound is per session");
    // A watch that fires is paid back: one more fits, then the bound holds again.
    other.create("/w/000", b"", Acl::open_unsafe(), 0, None).await.unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap();
    assert_eq!(ev.path, "/w/000");
    assert_eq!(greedy.request(add).await, Ok(Response::AddWatch), "room for one again");
    quota(greedy.exists("/w/998", true).await);
}
