//! What a due snapshot costs the input that handles it, on a 200,000-znode tree of 100-byte
//! nodes (the `keeper bench --workload create` shape docs/performance.md measures):
//! - `one_shot`: the whole image at once (`persist::encode_snapshot`), the pause every
//!   snapshot used to put on one input;
//! - `slice_with_set`: what an input pays now, one setData applied while a snapshot is
//!   under way (saving the node's label state when the walk has not reached it) plus one
//!   slice of the default size (`DEFAULT_SNAPSHOT_SLICE_NODES` nodes, at most 1 MiB); a
//!   finished snapshot starts the next, so begins are counted too;
//! - `incremental_total`: a whole snapshot written slice by slice with a setData between
//!   slices, the total work against `one_shot` (the copy-on-write overhead).
//!
//! Run with `cargo bench -p keeper-core --bench snapshot`.

use bytes::Bytes;
use divan::{black_box, Bencher};
use keeper_core::config::{DEFAULT_SNAPSHOT_SLICE_NODES, SNAPSHOT_SLICE_BYTES};
use keeper_core::ids::{SessionId, Zxid};
use keeper_core::persist;
use keeper_core::tree::DataTree;
use keeper_core::txn::Txn;

#[path = "common/mod.rs"]
mod common;
use common::{create, key, record};

fn main() {
    divan::main();
}

const NODES: u64 = 200_000;

fn tree() -> (DataTree, u64) {
    let mut tree = DataTree::new();
    tree.apply(&record(1, create("/bench".into())));
    for i in 0..NODES {
        tree.apply(&record(i + 2, create(key(i))));
    }
    (tree, NODES + 2)
}

/// A setData on a node spread over the tree (a prime stride), as the set workload does.
fn set(tree: &mut DataTree, zxid: &mut u64, data: &Bytes) {
    let path = key(*zxid * 7919 % NODES);
    tree.apply(&record(*zxid, Txn::SetData { path, data: Some(data.clone()), version: 1 }));
    *zxid += 1;
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn one_shot(bencher: Bencher) {
    let (tree, zxid) = tree();
    let sessions = [(SessionId(1), 30_000)];
    bencher.bench_local(|| {
        black_box(persist::encode_snapshot(Zxid(zxid - 1), &sessions, &tree));
    });
}

#[divan::bench(sample_count = 200, sample_size = 1)]
fn slice_with_set(bencher: Bencher) {
    let (mut tree, mut zxid) = tree();
    let data = Bytes::from(vec![b'y'; 100]);
    let sessions = [(SessionId(1), 30_000)];
    persist::begin_snapshot(&mut tree, &sessions);
    bencher.bench_local(|| {
        set(&mut tree, &mut zxid, &data);
        let slice = DEFAULT_SNAPSHOT_SLICE_NODES;
        if let Some(done) = persist::advance_snapshot(&mut tree, slice, SNAPSHOT_SLICE_BYTES) {
            black_box(done);
            persist::begin_snapshot(&mut tree, &sessions);
        }
    });
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn incremental_total(bencher: Bencher) {
    let (mut tree, mut zxid) = tree();
    let data = Bytes::from(vec![b'y'; 100]);
    let sessions = [(SessionId(1), 30_000)];
    bencher.bench_local(|| {
        persist::begin_snapshot(&mut tree, &sessions);
        loop {
            set(&mut tree, &mut zxid, &data);
            let slice = DEFAULT_SNAPSHOT_SLICE_NODES;
            if let Some(done) = persist::advance_snapshot(&mut tree, slice, SNAPSHOT_SLICE_BYTES) {
                break black_box(done);
            }
        }
    });
}
