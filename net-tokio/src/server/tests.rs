//! Unit tests of the node task's router and the connection writer (batching, bounds,
//! close ordering).

use super::*;

fn storage() -> (StorageLink, mpsc::UnboundedReceiver<(PersistSeq, DurableWrite)>) {
    let (persist, persist_rx) = mpsc::unbounded_channel();
    let (_done, persisted) = mpsc::unbounded_channel();
    (StorageLink { persist, persisted, full: None }, persist_rx)
}

fn shared(close_bytes: usize) -> Shared {
    let mut limits = Limits::from_config(&keeper_core::config::Config::standalone(100));
    limits.throttle_bytes = close_bytes / 2;
    limits.close_bytes = close_bytes;
    Shared {
        limits,
        max_buffer_bytes: 1 << 20,
        gate: Gate::default(),
        stats: Arc::new(ShellStats::new()),
    }
}

fn conn_out(tx: mpsc::Sender<Outbound>) -> ConnOut {
    ConnOut { out: tx, load: Arc::new(ConnLoad::default()), pending: Vec::new() }
}

fn router_with(conn: u64, out: ConnOut) -> Router {
    Router { conns: BTreeMap::from([(ConnId(conn), out)]), ..Router::default() }
}

fn text(conn: u64, t: &str) -> Output {
    Output::Text { conn: ConnId(conn), text: t.into() }
}

/// A client that does not read fills its bounded queue and is dropped, not buffered:
/// by frame count, and by bytes.
#[test]
fn full_outbound_queue_closes_the_connection() {
    let (link, _rx) = storage();
    let sh = shared(1 << 20);
    let (tx, _out_rx) = mpsc::channel(2);
    let mut router = router_with(7, conn_out(tx));
    for _ in 0..2 {
        router.route(text(7, "x"), &link, &sh);
        router.flush(&sh);
        assert!(router.conns.contains_key(&ConnId(7)));
    }
    router.route(text(7, "x"), &link, &sh);
    router.flush(&sh);
    assert!(!router.conns.contains_key(&ConnId(7)));

    let sh = shared(10);
    let (tx, _out_rx) = mpsc::channel(100);
    let mut router = router_with(8, conn_out(tx));
    router.route(text(8, "0123456789"), &link, &sh);
    router.flush(&sh);
    assert!(router.conns.contains_key(&ConnId(8)), "exactly at the bound");
    router.route(text(8, "x"), &link, &sh);
    router.flush(&sh);
    assert!(!router.conns.contains_key(&ConnId(8)), "one byte past the bound");
}

/// Outputs of one pass reach the connection as one message, in output order.
#[test]
fn one_pass_is_one_message_per_connection() {
    let (link, _rx) = storage();
    let sh = shared(1 << 20);
    let (tx, mut out_rx) = mpsc::channel(8);
    let mut router = router_with(3, conn_out(tx));
    for t in ["a", "b", "c"] {
        router.route(text(3, t), &link, &sh);
    }
    assert!(out_rx.try_recv().is_err(), "nothing leaves before the pass ends");
    router.flush(&sh);
    match out_rx.try_recv() {
        Ok(Outbound::Bytes(b)) => assert_eq!(b, b"abc"),
        _ => panic!("one batch"),
    }
    assert!(out_rx.try_recv().is_err());
}

/// Text then Close: the socket gets the text and is then shut down (4lw behaviour), and
/// the written bytes leave the connection's count.
#[tokio::test]
async fn text_then_close_is_written_then_shut_down() {
    let (link, _rx) = storage();
    let sh = shared(1 << 20);
    let (tx, out_rx) = mpsc::channel(8);
    let out = conn_out(tx);
    let load = out.load.clone();
    let mut router = router_with(1, out);
    router.route(text(1, "imok"), &link, &sh);
    router.route(Output::Close { conn: ConnId(1) }, &link, &sh);
    router.flush(&sh);
    assert!(router.conns.is_empty(), "a closed connection gets no more outputs");
    assert_eq!(load.queued_bytes(), 4);
    let (client, server) = tokio::io::duplex(64);
    write_loop(server, out_rx, load.clone(), sh.limits).await;
    assert_eq!(load.queued_bytes(), 0);
    let mut client = client;
    let mut text = String::new();
    client.read_to_string(&mut text).await.unwrap();
    assert_eq!(text, "imok");
}

/// Outputs for unknown connections are dropped quietly; storage gets Persist in order.
#[test]
fn persist_goes_to_storage_in_order() {
    let (link, mut rx) = storage();
    let sh = shared(1 << 20);
    let mut router = Router::default();
    for seq in 1..=3 {
        let write =
            DurableWrite::Snapshot { zxid: keeper_core::Zxid(seq), image: bytes::Bytes::new() };
        router.route(Output::Persist { seq: PersistSeq(seq), write }, &link, &sh);
    }
    router.route(Output::Close { conn: ConnId(9) }, &link, &sh);
    router.flush(&sh);
    let seqs: Vec<u64> = std::iter::from_fn(|| rx.try_recv().ok()).map(|(s, _)| s.0).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}
