//! The incremental snapshot against the one-shot encoder: whatever is applied between
//! slices, the finished image is byte for byte what `encode_snapshot` makes of a clone
//! taken at the label.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::ids::SessionId;
use crate::persist;
use crate::proto::Id;
use crate::txn::TxnHeader;

/// A number in `lo..hi`.
fn pick(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    lo + rng.next_u64() % (hi - lo)
}

fn rec(zxid: u64, session: i64, txn: Txn) -> TxnRecord {
    TxnRecord {
        header: TxnHeader {
            session: SessionId(session),
            cxid: 1,
            zxid: Zxid(zxid),
            time_ms: 1000 + zxid as i64,
        },
        txn,
    }
}

/// Four ACL lists, the last two used by few nodes so that set-ACLs release their ids and
/// later creates reuse them for other lists.
fn acl(k: u64) -> Vec<Acl> {
    match k % 4 {
        0 => Acl::open_unsafe(),
        1 => Acl::read_unsafe(),
        k => vec![Acl { perms: 31, id: Id::new("digest", &format!("u{k}:x")) }],
    }
}

/// A random transaction over the paths `/n0`..`/n7` and their children `/nK/c0`..`/nK/c4`.
fn random_txn(t: &DataTree, rng: &mut ChaCha8Rng, zxid: u64) -> TxnRecord {
    let top = pick(rng, 0, 8);
    let path = if pick(rng, 0, 10) < 5 {
        format!("/n{top}")
    } else {
        format!("/n{top}/c{}", pick(rng, 0, 5))
    };
    let session = pick(rng, 1, 4) as i64;
    let parent_cv = |t: &DataTree, p: &str| {
        t.stored_stat(path::parent(p)).map_or(0, |s| s.cversion.wrapping_add(1))
    };
    let one = |t: &DataTree, rng: &mut ChaCha8Rng, path: &str| -> Txn {
        if !t.nodes.contains_key(path) {
            let owner =
                if path.matches('/').count() == 2 && pick(rng, 0, 10) < 4 { session } else { 0 };
            let data = Some(Bytes::from(vec![b'x'; pick(rng, 0, 40) as usize]));
            return Txn::Create {
                path: path.to_string(),
                data,
                acl: acl(pick(rng, 0, 8)),
                ephemeral_owner: owner,
                parent_cversion: parent_cv(t, path),
            };
        }
        match pick(rng, 0, 3) {
            0 => Txn::Delete { path: path.to_string() },
            1 => Txn::SetData {
                path: path.to_string(),
                data: if pick(rng, 0, 10) < 1 {
                    None
                } else {
                    Some(Bytes::from(format!("{zxid}")))
                },
                version: t.stored_stat(path).map_or(0, |s| s.version + 1),
            },
            _ => Txn::SetAcl {
                path: path.to_string(),
                acl: acl(pick(rng, 0, 8)),
                version: t.stored_stat(path).map_or(0, |s| s.aversion + 1),
            },
        }
    };
    let txn = match pick(rng, 0, 10) {
        0 => Txn::CloseSession,
        1 => {
            // A multi over two paths; a create of a child under a parent it creates first.
            let a = format!("/n{}", pick(rng, 0, 8));
            let b = format!("{a}/c{}", pick(rng, 0, 5));
            let first = one(t, rng, &a);
            let second = if matches!(first, Txn::Create { .. }) {
                Txn::Create {
                    path: b,
                    data: None,
                    acl: acl(0),
                    ephemeral_owner: 0,
                    parent_cversion: 1,
                }
            } else {
                one(t, rng, &b)
            };
            Txn::Multi(vec![first, second])
        }
        _ => one(t, rng, &path),
    };
    rec(zxid, session, txn)
}

#[test]
fn an_incremental_snapshot_equals_a_one_shot_encode_at_its_label() {
    let mut saw_saved = 0;
    for seed in 0..300u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut t = DataTree::new();
        let mut zxid = 0;
        for _ in 0..pick(&mut rng, 0, 120) {
            zxid += 1;
            let r = random_txn(&t, &mut rng, zxid);
            t.apply(&r);
        }
        let sessions = [(SessionId(1), 4000), (SessionId(2), 6000)];
        let at_label = t.clone();
        assert!(persist::begin_snapshot(&mut t, &sessions));
        assert!(!persist::begin_snapshot(&mut t, &sessions), "one at a time");
        let image = loop {
            for _ in 0..pick(&mut rng, 0, 4) {
                zxid += 1;
                let r = random_txn(&t, &mut rng, zxid);
                t.apply(&r);
            }
            saw_saved += t.pending.as_ref().map_or(0, |p| p.saved.len());
            debug_assert!(t.check_invariants());
            if let Some(done) =
                persist::advance_snapshot(&mut t, pick(&mut rng, 1, 5) as usize, 1 << 20)
            {
                break done;
            }
        };
        assert_eq!(image.0, at_label.last_zxid());
        let expected = persist::encode_snapshot(at_label.last_zxid(), &sessions, &at_label);
        assert!(image.1 == expected, "seed {seed}: the images differ");
        assert!(t.snapshot_in_progress().is_none());
        assert!(t.check_invariants(), "seed {seed}: the pins were released");
        let back = persist::decode_snapshot(&image.1).expect("decodes");
        assert_eq!(back.tree.digest(), at_label.digest());
    }
    assert!(saw_saved > 100, "the copy-on-write path ran ({saw_saved} saved copies)");
}

#[test]
fn a_saved_copy_keeps_its_acl_list_when_the_id_is_reused() {
    let mut t = DataTree::new();
    let create = |p: &str, a: Vec<Acl>| Txn::Create {
        path: p.to_string(),
        data: None,
        acl: a,
        ephemeral_owner: 0,
        parent_cversion: -1,
    };
    t.apply(&rec(1, 1, create("/a", Acl::open_unsafe())));
    t.apply(&rec(2, 1, create("/b", acl(2))));
    let at_label = t.clone();
    assert!(persist::begin_snapshot(&mut t, &[]));
    // /b's list is its own: moving /b off it would free its id for the next new list.
    t.apply(&rec(3, 1, Txn::SetAcl { path: "/b".into(), acl: Acl::open_unsafe(), version: 1 }));
    t.apply(&rec(4, 1, create("/c", acl(3))));
    assert_eq!(t.acls.refs_of(&acl(2)), 1, "the saved copy holds /b's old list");
    let done = loop {
        if let Some(d) = persist::advance_snapshot(&mut t, 1, 1 << 20) {
            break d;
        }
    };
    assert_eq!(done.1, persist::encode_snapshot(Zxid(2), &[], &at_label));
    assert_eq!(t.acls.refs_of(&acl(2)), 0, "released once written");
    assert!(t.check_invariants());
}

#[test]
fn abandoning_releases_saved_copies() {
    let mut t = DataTree::new();
    let before = t.clone();
    assert!(persist::begin_snapshot(&mut t, &[]));
    let r = rec(1, 1, Txn::SetAcl { path: "/zookeeper".into(), acl: acl(2), version: 1 });
    t.apply(&r);
    assert_eq!(t.acls.refs_of(&Acl::open_unsafe()), before.acls.refs_of(&Acl::open_unsafe()));
    t.abandon_snapshot();
    assert!(t.snapshot_in_progress().is_none());
    assert_eq!(t.acls.refs_of(&Acl::open_unsafe()), before.acls.refs_of(&Acl::open_unsafe()) - 1);
    assert!(t.check_invariants());
    assert!(persist::advance_snapshot(&mut t, 10, 1 << 20).is_none());
}

#[test]
fn a_byte_budget_bounds_a_slice() {
    let mut t = DataTree::new();
    for i in 0..50 {
        let txn = Txn::Create {
            path: format!("/n{i:02}"),
            data: Some(Bytes::from(vec![0u8; 1000])),
            acl: Acl::open_unsafe(),
            ephemeral_owner: 0,
            parent_cversion: i + 1,
        };
        t.apply(&rec(i as u64 + 1, 1, txn));
    }
    let expected = persist::encode_snapshot(t.last_zxid(), &[], &t);
    assert!(persist::begin_snapshot(&mut t, &[]));
    let mut slices = 1;
    let image = loop {
        match persist::advance_snapshot(&mut t, usize::MAX, 4000) {
            Some((_, image)) => break image,
            None => slices += 1,
        }
    };
    // About 1,100 bytes a node: four nodes a slice.
    assert!((12..=16).contains(&slices), "{slices} slices");
    assert_eq!(image, expected);
}
