//! A standalone server on 127.0.0.1:0 answering four-letter words and a real client.
//!
//! Each server gets its own dataDir: two servers may never share one (the storage lock).

use std::time::Duration;

use keeper_core::zoocfg::ZooCfg;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Starts a standalone server with a temp dataDir; returns its address and the stop switch.
async fn start(extra: &str) -> (std::net::SocketAddr, watch::Sender<bool>) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("keeper-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!("dataDir={}\ntickTime=100\nclientPort=0\n{extra}", dir.display());
    let cfg = ZooCfg::parse(&text).expect("valid test config");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        if let Err(e) = keeper_net::startup::serve(cfg, listener, stop_rx).await {
            panic!("server failed to start: {e}");
        }
    });
    (addr, stop_tx)
}

async fn four_letter(addr: std::net::SocketAddr, cmd: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(cmd.as_bytes()).await.unwrap();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut text))
        .await
        .expect("server closes after a four-letter word")
        .unwrap();
    text
}

/// `ruok` answers `imok` (ZooKeeper admin guide, four letter words).
#[tokio::test]
async fn ruok_answers_imok() {
    let (addr, _stop) = start("4lw.commands.whitelist=*\n").await;
    assert_eq!(four_letter(addr, "ruok").await, "imok");
}

/// `srvr` reports standalone mode, which `keeper status` and zkServer.sh parse.
#[tokio::test]
async fn srvr_reports_standalone() {
    let (addr, _stop) = start("").await;
    let text = four_letter(addr, "srvr").await;
    assert!(text.starts_with("Zookeeper version: "), "{text}");
    assert!(text.contains("Mode: standalone\n"), "{text}");
}

/// A real client (zookeeper-client crate) creates a node and reads it back.
#[tokio::test]
async fn real_client_create_and_get() {
    let (addr, _stop) = start("").await;
    let client = zookeeper_client::Client::connect(&addr.to_string()).await.unwrap();
    let options =
        zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    client.create("/a", b"hello", &options).await.unwrap();
    let (data, stat) = client.get_data("/a").await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(stat.version, 0);
}

/// A frame over jute.maxbuffer closes the connection without an answer.
#[tokio::test]
async fn oversized_frame_closes_connection() {
    let (addr, _stop) = start("jute.maxbuffer=1000\n").await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&100_000i32.to_be_bytes()).await.unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("server closes")
        .unwrap_or(0);
    assert_eq!(n, 0);
}
