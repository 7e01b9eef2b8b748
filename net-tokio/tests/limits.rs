//! Limits under attack, against a real server on 127.0.0.1 (docs/security.md lists them):
//! each test tries to break one bound and checks that the server stays up, stays within
//! memory, and keeps answering another client promptly.
//!
//! Raw sockets speak the protocol through `keeper_core::wire::codec`, so a test can do
//! what no polite client does: never read, pipeline thousands of requests, never finish
//! the handshake. Memory is the test process's RSS from /proc (the server runs in it).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod common;

use bytes::Bytes;
use common::start_server;
use keeper_core::proto::{ConnectRequest, Request};
use keeper_core::wire::codec;
use keeper_core::{SessionId, Zxid};
use keeper_net::client::{connect, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Another client's requests must finish within this while an attack runs (the bound
/// the server promises in docs/security.md; debug builds on 2 shared cores included).
const LATENCY_BOUND: Duration = Duration::from_millis(500);

/// RSS is per process: the tests here run one at a time so each sees only its own server.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line");
    kb * 1024
}

async fn handshake(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid(0),
        timeout_ms: 30_000,
        session_id: SessionId(0),
        passwd: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
    };
    let mut out = Vec::new();
    codec::encode_connect_request(&req, &mut out);
    s.write_all(&out).await.unwrap();
    read_frame(&mut s).await.expect("connect response");
    s
}

/// One frame's body, or None at EOF.
async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.ok()?;
    Some(body)
}

fn frames(xid_from: i32, count: i32, req: &Request) -> Vec<u8> {
    let mut out = Vec::new();
    for xid in xid_from..xid_from + count {
        codec::encode_request(xid, req, &mut out);
    }
    out
}

/// True once the server has closed `s` (EOF or reset), polled until `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut sink = vec![0u8; 1 << 16];
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut sink)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            _ => {}
        }
    }
    false
}

/// The slowest of `n` exists calls from a well-behaved client.
async fn worst_latency(client: &Client, n: usize) -> Duration {
    let mut worst = Duration::ZERO;
    for _ in 0..n {
        let t = Instant::now();
        client.exists("/", false).await.expect("the other client is answered");
        worst = worst.max(t.elapsed());
    }
    worst
}

/// A client that pipelines getData on a 512 KiB node and never reads: without a bound the
/// server would hold 4000 x 512 KiB = 2 GiB of replies. The reader stops decoding its
/// requests once its replies pile up, and past `close_bytes` it is disconnected; memory
/// stays within tens of MiB and another client keeps its latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_cannot_grow_server_memory() {
    let _serial = serial().await;
    let (addr, _stop) = start_server("").await;
    let (other, _w) = connect(&[addr.to_string()], Duration::from_secs(30)).await.unwrap();
    let big = vec![7u8; 512 * 1024];
    other.create("/big", &big, keeper_core::proto::Acl::open_unsafe(), 0, None).await.unwrap();
    let baseline = rss_bytes();

    let hog = handshake(addr).await;
    let req = Request::GetData { path: "/big".into(), watch: false };
    let flood = frames(1, 4000, &req);
    let (_rd, mut wr) = hog.into_split();
    let writer = tokio::spawn(async move {
        // Blocks once the server stops reading; ends when the server closes.
        let _ = wr.write_all(&flood).await;
    });
    // Watch for a few seconds: the server either throttles the hog (the writer blocks) or
    // closes it (the writer fails); meanwhile sample memory and the other client.
    let (mut worst, mut peak) = (Duration::ZERO, baseline);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        worst = worst.max(worst_latency(&other, 1).await);
        peak = peak.max(rss_bytes());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        peak < baseline + 96 * 1024 * 1024,
        "RSS grew from {baseline} to {peak} bytes while a client ignored 2 GiB of replies"
    );
    assert!(worst < LATENCY_BOUND, "the other client waited {worst:?}");
    eprintln!("never-reading client: RSS {baseline} -> peak {peak} bytes, worst latency {worst:?}");
    writer.abort();
}

/// Throttling is not dropping: a client that pipelines 50,000 small requests before it
/// reads anything (about 5 MiB of replies, over the 1 MiB throttle) is paused, not
/// disconnected, and then gets every reply in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_is_paused_then_served_in_order() {
    let _serial = serial().await;
    let (addr, _stop) = start_server("").await;
    const N: i32 = 50_000;
    let (mut rd, mut wr) = handshake(addr).await.into_split();
    let flood = frames(1, N, &Request::Exists { path: "/zookeeper".into(), watch: false });
    let writer = tokio::spawn(async move { wr.write_all(&flood).await.map(|_| wr) });
    // Let the replies pile up past the throttle before reading any.
    let (other, _w) = connect(&[addr.to_string()], Duration::from_secs(30)).await.unwrap();
    let worst = worst_latency(&other, 20).await;
    assert!(worst < LATENCY_BOUND, "the other client waited {worst:?}");
    let mut next = 1;
    let mut len = [0u8; 4];
    while next <= N {
        tokio::time::timeout(Duration::from_secs(20), rd.read_exact(&mut len))
            .await
            .expect("replies keep coming")
            .expect("the paused client was not disconnected");
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        rd.read_exact(&mut body).await.unwrap();
        let (header, _) = codec::decode_reply_header(&body).unwrap();
        assert_eq!(header.xid, next, "replies in request order");
        assert_eq!(header.err, 0);
        next += 1;
    }
    tokio::time::timeout(Duration::from_secs(20), writer).await.unwrap().unwrap().unwrap();
}

/// maxClientCnxns: ZooKeeper closes the connection that would pass the per-IP limit, and
/// the ones already open keep working.
#[tokio::test]
async fn max_client_cnxns_closes_the_extra_connection() {
    let _serial = serial().await;
    let (addr, _stop) = start_server("maxClientCnxns=3\n").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(handshake(addr).await);
    }
    let mut extra = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut extra, Duration::from_secs(5)).await, "the 4th is closed");
    for (i, s) in open.iter_mut().enumerate() {
        s.write_all(&frames(1, 1, &Request::Ping)).await.unwrap();
        assert!(read_frame(s).await.is_some(), "connection {i} still answers");
    }
    drop(open.pop());
    // One slot is free again once the server has seen the close; poll for it.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut out = Vec::new();
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid(0),
            timeout_ms: 30_000,
            session_id: SessionId(0),
            passwd: Bytes::from_static(&[0; 16]),
            read_only: None,
        };
        codec::encode_connect_request(&req, &mut out);
        s.write_all(&out).await.unwrap();
        if read_frame(&mut s).await.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot is usable again");
    }
}

/// Half-open sockets: a connection that never sends its handshake is closed after
/// `zookeeper.nio.sessionlessCnxnTimeout`, as ZooKeeper's NIO server does, so idle sockets
/// cannot hold connection slots forever.
#[tokio::test]
async fn a_connection_without_handshake_is_closed() {
    let _serial = serial().await;
    let (addr, _stop) = start_server("zookeeper.nio.sessionlessCnxnTimeout=300\n").await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial.write_all(&[0, 0, 0, 44, 0, 0]).await.unwrap(); // a handshake cut short
    let t = Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await, "silent socket closed");
    assert!(closed_within(&mut partial, Duration::from_secs(5)).await, "partial one closed");
    assert!(t.elapsed() >= Duration::from_millis(250), "not before the timeout");
}

/// A request frame over jute.maxbuffer closes the connection with nothing applied. A
/// response over it (getChildren of a node whose names add up past it) is still sent:
/// ZooKeeper 3.8 does the same (checked against Debian's 3.8.0 with -Djute.maxbuffer=4096:
/// getChildren of 40 children with 200-byte names answers, a 5000-byte setData loses the
/// connection). The bound on responses is the reading client's own jute.maxbuffer.
#[tokio::test]
async fn jute_maxbuffer_bounds_requests_and_responses() {
    let _serial = serial().await;
    let (addr, _stop) = start_server("jute.maxbuffer=4096\n").await;
    let (c, _w) = connect(&[addr.to_string()], Duration::from_secs(30)).await.unwrap();
    let open = keeper_core::proto::Acl::open_unsafe;
    c.create("/wide", b"", open(), 0, None).await.unwrap();
    for i in 0..40 {
        let name = format!("/wide/{i:03}-{}", "n".repeat(200));
        c.create(&name, b"", open(), 0, None).await.unwrap();
    }
    let mut s = handshake(addr).await;
    let too_big =
        Request::SetData { path: "/wide".into(), data: Some(vec![1; 5000].into()), version: -1 };
    s.write_all(&frames(1, 1, &too_big)).await.unwrap();
    assert!(closed_within(&mut s, Duration::from_secs(5)).await, "oversized request: closed");
    assert_eq!(c.get_data("/wide", false).await.unwrap().0.as_deref(), Some(&b""[..]));
    let (children, _) = c.get_children("/wide", false).await.expect("sent, as ZooKeeper does");
    assert_eq!(children.len(), 40);
}

/// A connection storm and a session flood: 3000 connections opened and dropped by 32
/// tasks, a third of them abandoning fresh sessions (which then expire), another third
/// dropped before the handshake. The server stays up, another client keeps its latency
/// within the bound, and once the sessions have expired memory is back near its baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_storm_and_session_flood() {
    let _serial = serial().await;
    // Short sessions (tickTime 100: the minimum timeout is 200 ms) so the flood expires.
    let (addr, _stop) = start_server("maxClientCnxns=0\n4lw.commands.whitelist=*\n").await;
    let (other, _w) = connect(&[addr.to_string()], Duration::from_secs(30)).await.unwrap();
    let baseline = rss_bytes();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..32 {
        tasks.push(tokio::spawn(async move {
            for i in 0..94 {
                match (t + i) % 3 {
                    0 => drop(TcpStream::connect(addr).await.unwrap()),
                    1 => drop(handshake(addr).await), // the session lingers until it expires
                    _ => {
                        let mut s = handshake(addr).await;
                        s.write_all(&frames(1, 1, &Request::CloseSession)).await.unwrap();
                        let _ = read_frame(&mut s).await;
                    }
                }
            }
        }));
    }
    let mut worst = Duration::ZERO;
    while tasks.iter().any(|t| !t.is_finished()) {
        worst = worst.max(worst_latency(&other, 1).await);
    }
    for t in tasks {
        t.await.expect("storm task");
    }
    let storm = started.elapsed();
    let peak = rss_bytes();
    assert!(worst < LATENCY_BOUND, "the other client waited {worst:?} during the storm");
    // Abandoned sessions (timeout clamped to 2 s by the 20-tick maximum) expire; poll
    // `mntr` until only the other client's connection and session are left.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mntr = common::four_letter(addr, "mntr").await;
        let value = |key: &str| {
            mntr.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('\t'))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        // The mntr connection itself counts while it is answered.
        let drained = value("zk_num_alive_connections").is_some_and(|n| n <= 2)
            && value("zk_global_sessions") == Some(1);
        if drained {
            break;
        }
        assert!(Instant::now() < deadline, "connections and sessions never drained: {mntr}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = rss_bytes();
    eprintln!(
        "storm of 3008 connections in {storm:?}: worst latency {worst:?}, RSS {baseline} -> \
         peak {peak} -> after {after} bytes"
    );
    assert!(
        after < baseline + 32 * 1024 * 1024,
        "memory did not return near its baseline: {baseline} -> {after} bytes"
    );
    assert!(other.exists("/", false).await.unwrap().is_some(), "the server is still up");
}

/// Half-open after the handshake: a client that vanished without a FIN (its socket stays
/// open here, silent, sending no pings) holds its session and connection only until the
/// session times out; then the session expires, its ephemeral goes, and the server closes
/// the socket, as ZooKeeper does.
#[tokio::test]
async fn a_silent_session_expires_and_its_socket_is_closed() {
    let _serial = serial().await;
    // tickTime 100: the 30 s asked for is clamped to the 20-tick maximum, 2 s.
    let (addr, _stop) = start_server("4lw.commands.whitelist=*\n").await;
    let mut silent = handshake(addr).await;
    let create = Request::Create(keeper_core::proto::CreateRequest {
        op: keeper_core::proto::CreateOp::Create,
        path: "/eph".into(),
        data: None,
        acl: keeper_core::proto::Acl::open_unsafe(),
        flags: 1,
        ttl: None,
    });
    silent.write_all(&frames(1, 1, &create)).await.unwrap();
    read_frame(&mut silent).await.expect("create answered");
    let (other, _w) = connect(&[addr.to_string()], Duration::from_secs(30)).await.unwrap();
    assert!(other.exists("/eph", false).await.unwrap().is_some());
    let t = Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(10)).await, "closed on expiry");
    assert!(t.elapsed() >= Duration::from_millis(1500), "not before the session timeout");
    assert!(other.exists("/eph", false).await.unwrap().is_none(), "the session expired");
}
