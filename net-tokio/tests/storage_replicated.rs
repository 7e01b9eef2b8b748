//! The writes only an ensemble member makes, through the real writer threads and back
//! through recovery: epoch files, a learner's SNAP install (snapshot then truncate), and
//! truncation of a divergent log suffix.

mod storage_common;

use bytes::Bytes;
use keeper_core::ids::{PersistSeq, Zxid};
use keeper_core::output::DurableWrite;
use keeper_core::persist::{encode_snapshot, Epochs, Recovered};
use keeper_core::tree::DataTree;
use keeper_net::storage::{Storage, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE};
use storage_common::*;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

fn open_full(dir: &std::path::Path) -> (Storage, Recovered, UnboundedReceiver<PersistSeq>) {
    let (tx, rx) = unbounded_channel();
    let (s, r) = Storage::open_with(dir, dir, tx, small_options()).expect("open");
    (s, r, rx)
}

#[test]
fn epochs_survive_a_restart_and_are_durable_when_reported() {
    let d = TempDir::new("repl-epochs");
    let (s, r, mut rx) = open_full(d.path());
    assert_eq!(r.epochs, Epochs::default(), "a new store has recorded no epoch");
    s.persist(PersistSeq(1), DurableWrite::AcceptedEpoch(5));
    s.persist(PersistSeq(2), DurableWrite::CurrentEpoch(4));
    s.persist(PersistSeq(3), DurableWrite::AcceptedEpoch(6));
    wait_for(&mut rx, 3);
    // Reported durable: the files hold the values now, before the store closes.
    let v2 = d.path().join("version-2");
    assert_eq!(std::fs::read_to_string(v2.join(ACCEPTED_EPOCH_FILE)).unwrap().trim(), "6");
    assert_eq!(std::fs::read_to_string(v2.join(CURRENT_EPOCH_FILE)).unwrap().trim(), "4");
    s.close();
    let (_s, r, _rx) = open_full(d.path());
    assert_eq!(r.epochs, Epochs { accepted: Some(6), current: Some(4) });
}

#[test]
fn truncate_drops_the_divergent_suffix_and_appends_continue() {
    let d = TempDir::new("repl-trunc");
    let (s, _r, mut rx) = open_full(d.path());
    let next = append_all(&s, 1, 1..=6);
    s.persist(PersistSeq(next), DurableWrite::Truncate { to: Zxid(4) });
    let next = append_all(&s, next + 1, [0x1_0000_0001, 0x1_0000_0002]);
    wait_for(&mut rx, next - 1);
    s.close();
    let (_s, r, _rx) = open_full(d.path());
    let zxids: Vec<u64> = r.log.iter().map(|r| r.header.zxid.0).collect();
    assert_eq!(zxids, vec![1, 2, 3, 4, 0x1_0000_0001, 0x1_0000_0002]);
}

#[test]
fn a_snap_install_replaces_the_history_even_below_the_log() {
    let d = TempDir::new("repl-snap");
    let (s, _r, mut rx) = open_full(d.path());
    let next = append_all(&s, 1, 1..=9);
    // The leader's image at zxid 5 (an empty tree is enough to tell it apart).
    let image = Bytes::from(encode_snapshot(Zxid(5), &[], &DataTree::new()));
    s.persist(PersistSeq(next), DurableWrite::Snapshot { zxid: Zxid(5), image });
    s.persist(PersistSeq(next + 1), DurableWrite::Truncate { to: Zxid(5) });
    let next = append_all(&s, next + 2, [6, 7]);
    wait_for(&mut rx, next - 1);
    // Reported durable: the installed snapshot is on disk already.
    assert!(snapshot_files(d.path()).contains(&"snapshot.5".to_string()));
    s.close();
    let (_s, r, _rx) = open_full(d.path());
    assert_eq!(r.snapshot.as_ref().map(|s| s.zxid), Some(Zxid(5)));
    let zxids: Vec<u64> = r.log.iter().map(|r| r.header.zxid.0).collect();
    assert_eq!(zxids, vec![6, 7], "the old 6..9 are gone, the new 6 and 7 follow the snapshot");
}
