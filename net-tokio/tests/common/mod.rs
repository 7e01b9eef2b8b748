#![allow(dead_code)] // each test binary uses its own subset of these helpers
//! Shared by the server integration tests: a standalone keeper on 127.0.0.1:0 with its own
//! temp dataDir (two servers may never share one: the storage lock), and four-letter words.

use std::net::SocketAddr;
use std::time::Duration;

use keeper_core::zoocfg::ZooCfg;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Starts a standalone server whose zoo.cfg is a fresh dataDir, `tickTime=100`, no
/// AdminServer (tests run in parallel: they cannot all have port 8080), and the `extra`
/// lines. Returns its address and the stop switch (dropping it stops the server).
#[allow(dead_code)] // admin_http starts its servers with serve_with
pub async fn start_server(extra: &str) -> (SocketAddr, watch::Sender<bool>) {
    let cfg = test_config(&format!("admin.enableServer=false\n{extra}"));
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

/// Sends a four-letter word and returns the whole answer (the server closes after it).
pub async fn four_letter(addr: SocketAddr, cmd: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(cmd.as_bytes()).await.unwrap();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut text))
        .await
        .expect("server closes after a four-letter word")
        .unwrap();
    text
}

/// A zoo.cfg for a test: a fresh temp dataDir, `tickTime=100`, `clientPort=0`, then `extra`.
pub fn test_config(extra: &str) -> ZooCfg {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("keeper-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!("dataDir={}\ntickTime=100\nclientPort=0\n{extra}", dir.display());
    ZooCfg::parse(&text).expect("valid test config")
}
