//! A standalone server on 127.0.0.1:0 answering four-letter words and a real client.
//!
//! Each server gets its own dataDir: two servers may never share one (the storage lock).

use std::time::Duration;

mod common;

use common::{four_letter, start_server as start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
