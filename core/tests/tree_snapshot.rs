//! Golden bytes of the initial tree's snapshot body and its digest, so any change to the
//! snapshot format or the digest function shows up in review.

use keeper_core::tree::DataTree;
use keeper_core::wire::jute::{Reader, Writer};

#[test]
fn initial_tree_snapshot_is_stable() {
    let t = DataTree::new();
    let mut w = Writer::new();
    t.encode_snapshot(&mut w);
    let bytes = w.into_vec();
    let hex: Vec<String> =
        bytes.chunks(32).map(|c| c.iter().map(|b| format!("{b:02x}")).collect()).collect();
    let back = DataTree::decode_snapshot(&mut Reader::new(&bytes)).unwrap();
    assert_eq!(back.digest(), t.digest());
    insta::assert_snapshot!(format!("digest {:016x}\n{}", t.digest(), hex.join("\n")));
}
