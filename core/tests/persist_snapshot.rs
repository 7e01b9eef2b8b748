//! The snapshot framing (core/src/persist/snapshot.rs), tested without a real tree.

use keeper_core::ids::{SessionId, Zxid};
use keeper_core::persist::{decode_snapshot_image, encode_snapshot_image, PersistError};
use proptest::prelude::*;

#[test]
fn image_round_trips() {
    let sessions = vec![(SessionId(1), 4000), (SessionId(0x100_0000_0000_0002), 30000)];
    let b = encode_snapshot_image(Zxid(0x1_0000_0005), &sessions, b"tree!");
    let img = decode_snapshot_image(&b).unwrap();
    assert_eq!(img.zxid, Zxid(0x1_0000_0005));
    assert_eq!(img.sessions, sessions);
    assert_eq!(img.tree_bytes, b"tree!");
    assert_eq!(&b[img.tree_offset..img.tree_offset + 5], b"tree!");
}

/// Any single-byte flip and any truncation is refused: the checksum covers everything.
#[test]
fn flips_and_truncations_refused() {
    let b = encode_snapshot_image(Zxid(9), &[(SessionId(3), 100)], b"abcdef");
    for i in 0..b.len() {
        let mut c = b.clone();
        c[i] ^= 0x10;
        assert!(decode_snapshot_image(&c).is_err(), "flip at {i}");
    }
    for k in 0..b.len() {
        assert!(decode_snapshot_image(&b[..k]).is_err(), "cut at {k}");
    }
    assert!(matches!(
        decode_snapshot_image(b"KPLG\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
        Err(PersistError::BadMagic { .. })
    ));
}

proptest! {
    #[test]
    fn arbitrary_images_round_trip(
        z in any::<u64>(),
        ids in prop::collection::btree_set(any::<i64>(), 0..10),
        tree in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let sessions: Vec<(SessionId, i32)> = ids.into_iter().map(|i| (SessionId(i), (i as i32) & 0xffff)).collect();
        let b = encode_snapshot_image(Zxid(z), &sessions, &tree);
        let img = decode_snapshot_image(&b).unwrap();
        prop_assert_eq!(img.zxid, Zxid(z));
        prop_assert_eq!(img.sessions, sessions);
        prop_assert_eq!(img.tree_bytes, &tree[..]);
    }

    #[test]
    fn garbage_never_panics(junk in prop::collection::vec(any::<u8>(), 0..100)) {
        let _ = decode_snapshot_image(&junk);
        let mut b = b"KPSN".to_vec();
        b.extend_from_slice(&junk);
        let _ = decode_snapshot_image(&b);
    }
}
