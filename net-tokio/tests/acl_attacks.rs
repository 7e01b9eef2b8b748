//! Auth and ACLs under attack, against a real server (docs/security.md): wrong digest
//! passwords, multi and multiRead as a way around ACLs, getAllChildrenNumber and
//! getEphemerals on what the caller may not see, and super only via the configured digest.
//! Expected behaviour is ZooKeeper 3.8's (FinalRequestProcessor, PrepRequestProcessor,
//! DigestAuthenticationProvider).

use std::time::Duration;

mod common;

use bytes::Bytes;
use common::start_server;
use keeper_core::acl::digest;
use keeper_core::error::KeeperError;
use keeper_core::proto::{perms, Acl, CreateOp, CreateRequest, Id, OpResult, Request, Response};
use keeper_net::client::{connect, Client, ClientError};

const SECRET: &[u8] = b"the secret";

async fn client(addr: std::net::SocketAddr) -> Client {
    connect(&[addr.to_string()], Duration::from_secs(30)).await.unwrap().0
}

fn bob_only() -> Vec<Acl> {
    vec![Acl { perms: perms::ALL, id: Id::new("digest", &digest("bob:right")) }]
}

/// /locked (bob only, with a child) and /open, created by bob.
async fn setup(addr: std::net::SocketAddr) -> Client {
    let bob = client(addr).await;
    bob.add_auth("digest", b"bob:right").await.unwrap();
    bob.create("/locked", SECRET, bob_only(), 0, None).await.unwrap();
    bob.create("/locked/child", SECRET, bob_only(), 0, None).await.unwrap();
    bob.create("/open", b"", Acl::open_unsafe(), 0, None).await.unwrap();
    bob
}

fn no_auth<T: std::fmt::Debug>(r: Result<T, ClientError>) {
    assert!(matches!(r, Err(ClientError::Keeper(KeeperError::NoAuth))), "expected NOAUTH: {r:?}");
}

/// A wrong digest password is not refused (ZooKeeper's digest provider accepts any
/// user:password and names the connection by its hash); it simply is not bob, so bob's
/// node answers NOAUTH and the connection stays usable.
#[tokio::test]
async fn wrong_digest_password_gets_no_access() {
    let (addr, _stop) = start_server("").await;
    let _bob = setup(addr).await;
    let mallory = client(addr).await;
    mallory.add_auth("digest", b"bob:wrong").await.expect("digest auth itself succeeds");
    no_auth(mallory.get_data("/locked", false).await);
    no_auth(mallory.set_data("/locked", b"pwned", -1).await);
    assert!(mallory.exists("/open", false).await.unwrap().is_some(), "still connected");
}

/// multi cannot write where the lone request could not, even behind a check that passes
/// or a sub-op on an open node, and multiRead returns NOAUTH in place of the data.
#[tokio::test]
async fn multi_and_multi_read_do_not_bypass_acls() {
    let (addr, _stop) = start_server("").await;
    let bob = setup(addr).await;
    let mallory = client(addr).await;
    let attempts = vec![
        vec![Request::SetData {
            path: "/locked".into(),
            data: Some(Bytes::from_static(b"pwned")),
            version: -1,
        }],
        vec![
            Request::Check { path: "/open".into(), version: 0 },
            Request::Delete { path: "/locked/child".into(), version: -1 },
        ],
        vec![Request::Create(CreateRequest {
            op: CreateOp::Create,
            path: "/locked/planted".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: None,
        })],
    ];
    for ops in attempts {
        match mallory.request(Request::Multi(ops.clone())).await {
            Err(ClientError::Keeper(KeeperError::NoAuth)) => {}
            Ok(Response::Multi(results)) => assert!(
                results.iter().any(|r| *r == OpResult::Error { err: KeeperError::NoAuth.code() }),
                "{ops:?} answered {results:?}"
            ),
            other => panic!("{ops:?} answered {other:?}"),
        }
    }
    let (data, stat) = bob.get_data("/locked", false).await.unwrap();
    assert_eq!((data.as_deref(), stat.version), (Some(SECRET), 0), "/locked untouched");
    assert!(bob.exists("/locked/child", false).await.unwrap().is_some());
    assert!(bob.exists("/locked/planted", false).await.unwrap().is_none());

    let reads = Request::MultiRead(vec![
        Request::GetData { path: "/locked".into(), watch: false },
        Request::GetChildren { path: "/locked".into(), watch: false },
    ]);
    let answer = mallory.request(reads).await.unwrap();
    let no_auth = OpResult::Error { err: KeeperError::NoAuth.code() };
    assert_eq!(answer, Response::Multi(vec![no_auth.clone(), no_auth]), "no data, no names");
}

/// getAllChildrenNumber needs READ on the node asked about (ZooKeeper 3.8 checks it), and
/// getEphemerals lists only the caller's own session's ephemerals.
#[tokio::test]
async fn child_counts_and_ephemerals_respect_acls() {
    let (addr, _stop) = start_server("").await;
    let bob = setup(addr).await;
    bob.create("/open/bobs-eph", b"", Acl::open_unsafe(), 1, None).await.unwrap();
    let mallory = client(addr).await;
    let count = Request::GetAllChildrenNumber { path: "/locked".into() };
    no_auth(mallory.request(count.clone()).await);
    assert_eq!(bob.request(count).await.unwrap(), Response::AllChildrenNumber(1));
    let mine = mallory.request(Request::GetEphemerals { prefix: "/".into() }).await.unwrap();
    assert_eq!(mine, Response::GetEphemerals { paths: vec![] }, "not bob's ephemerals");
    let bobs = bob.request(Request::GetEphemerals { prefix: "/open".into() }).await.unwrap();
    assert_eq!(bobs, Response::GetEphemerals { paths: vec!["/open/bobs-eph".into()] });
}

/// Super is only the configured digest: "super" with another password is an ordinary
/// identity, the `super` scheme itself is unknown (AUTHFAILED, connection closed), and
/// the configured password reads everything.
#[tokio::test]
async fn super_only_via_the_configured_digest() {
    let super_digest = digest("super:letmein");
    let (addr, _stop) =
        start_server(&format!("DigestAuthenticationProvider.superDigest={super_digest}\n")).await;
    let _bob = setup(addr).await;

    let guess = client(addr).await;
    guess.add_auth("digest", b"super:guess").await.unwrap();
    no_auth(guess.get_data("/locked", false).await);

    let scheme = client(addr).await;
    let refused = scheme.add_auth("super", b"letmein").await;
    assert!(
        matches!(refused, Err(ClientError::Keeper(KeeperError::AuthFailed))),
        "unknown scheme: {refused:?}"
    );
    assert!(scheme.exists("/open", false).await.is_err(), "closed after AUTHFAILED");

    let admin = client(addr).await;
    admin.add_auth("digest", b"super:letmein").await.unwrap();
    assert_eq!(admin.get_data("/locked", false).await.unwrap().0.as_deref(), Some(SECRET));
}
