//! Round-trip and corruption tests for the peer wire codec.

use super::*;
use crate::proto::{Acl, CreateOp, CreateRequest, Id, Request};
use crate::txn::{Txn, TxnHeader};
use proptest::prelude::*;

const MAX: usize = 1 << 20;

fn record(session: i64, zxid: u64, path: String, data: Vec<u8>, kind: u8) -> TxnRecord {
    let txn = match kind % 4 {
        0 => Txn::SetData { path, data: Some(Bytes::from(data)), version: 3 },
        1 => Txn::Delete { path },
        2 => Txn::CreateSession { timeout_ms: 4000 },
        _ => Txn::Create {
            path,
            data: Some(Bytes::from(data)),
            acl: vec![Acl { perms: 31, id: Id { scheme: "world".into(), id: "anyone".into() } }],
            ephemeral_owner: session,
            parent_cversion: 7,
        },
    };
    TxnRecord {
        header: TxnHeader { session: SessionId(session), cxid: 9, zxid: Zxid(zxid), time_ms: 77 },
        txn,
    }
}

fn forward(kind: u8, session: i64, cxid: i32, path: String, data: Vec<u8>) -> Forward {
    let session = SessionId(session);
    match kind % 4 {
        0 => Forward::Write {
            session,
            cxid,
            auth: AuthContext {
                ids: vec![Id { scheme: "digest".into(), id: "u:h".into() }],
                is_super: kind.is_multiple_of(2),
            },
            req: Request::Create(CreateRequest {
                op: CreateOp::Create,
                path,
                data: Some(Bytes::from(data)),
                acl: vec![Acl {
                    perms: 31,
                    id: Id { scheme: "world".into(), id: "anyone".into() },
                }],
                flags: 0,
                ttl: None,
            }),
            wall_ms: 1_700_000_000_000,
        },
        1 => Forward::CreateSession { session, timeout_ms: cxid },
        2 => Forward::CloseSession { session, cxid },
        _ => Forward::Sync { session, cxid },
    }
}

fn any_msg() -> impl Strategy<Value = PeerMsg> {
    let path = "/[a-z]{1,12}";
    let data = proptest::collection::vec(any::<u8>(), 0..64);
    (0u8..16, any::<u64>(), any::<u32>(), any::<i64>(), any::<i32>(), path, data, 0u8..4).prop_map(
        |(kind, z, e, s, c, path, data, sub)| {
            let zx = Zxid(z);
            match kind {
                0 => PeerMsg::Vote(Notification {
                    state: [
                        PeerState::Looking,
                        PeerState::Following,
                        PeerState::Leading,
                        PeerState::Observing,
                    ][sub as usize],
                    vote: Vote { leader: ServerId(u64::from(e)), zxid: zx, peer_epoch: e },
                    election_epoch: z >> 1,
                    config: SenderConfig { version: z >> 3, text: Bytes::from(data.clone()) },
                }),
                1 => PeerMsg::LearnerInfo { accepted_epoch: e, last_zxid: zx, observer: sub == 1 },
                2 => PeerMsg::LeaderInfo { epoch: e },
                3 => PeerMsg::AckEpoch { current_epoch: e, last_zxid: zx },
                4 => PeerMsg::Diff { after: zx },
                5 => PeerMsg::Snap { zxid: zx, image: Bytes::from(data) },
                6 => PeerMsg::Proposal(record(s, z, path, data, sub)),
                7 => PeerMsg::Commit(zx),
                8 => PeerMsg::Inform(record(s, z, path, data, sub)),
                9 => PeerMsg::NewLeader { epoch: e },
                10 => PeerMsg::Ack { zxid: zx },
                11 => PeerMsg::UpToDate { committed: zx },
                12 => PeerMsg::Ping,
                13 => PeerMsg::Pong {
                    touched: data.iter().map(|b| SessionId(i64::from(*b))).collect(),
                },
                14 => PeerMsg::Forward(forward(sub, s, c, path, data)),
                _ => PeerMsg::Synced { session: SessionId(s), cxid: c },
            }
        },
    )
}

fn encoded(msg: &PeerMsg) -> Vec<u8> {
    let mut out = Vec::new();
    encode_msg(msg, &mut out);
    out
}

proptest! {
    #[test]
    fn every_message_round_trips(msg in any_msg()) {
        let bytes = encoded(&msg);
        prop_assert_eq!(decode_frame(&bytes, MAX), Ok(PeerFrame::Msg(msg.clone())));
        // Two frames back to back decode one at a time.
        let mut two = bytes.clone();
        encode_msg(&PeerMsg::Ping, &mut two);
        let (first, used) = decode_next(&two, MAX).unwrap().unwrap();
        prop_assert_eq!(first, PeerFrame::Msg(msg));
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(decode_next(&two[used..], MAX).unwrap().unwrap().0, PeerFrame::Msg(PeerMsg::Ping));
    }

    /// Any single corrupted byte is refused with an error (a length change, the version,
    /// or the checksum catches it); never a panic, never a different message.
    #[test]
    fn a_flipped_byte_is_refused(msg in any_msg(), at in any::<usize>(), bit in 0u8..8) {
        let mut bytes = encoded(&msg);
        let at = at % bytes.len();
        bytes[at] ^= 1 << bit;
        prop_assert!(decode_frame(&bytes, MAX).is_err());
    }

    /// A prefix of a frame is "need more", never an error or a message.
    #[test]
    fn a_cut_frame_waits_for_more(msg in any_msg(), cut in any::<usize>()) {
        let bytes = encoded(&msg);
        let cut = cut % bytes.len();
        prop_assert_eq!(decode_next(&bytes[..cut], MAX), Ok(None));
        prop_assert!(decode_frame(&bytes[..cut], MAX).is_err());
    }

    /// Arbitrary bytes with a valid header and checksum never panic the body decoder.
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut frame = ((body.len() + 5) as i32).to_be_bytes().to_vec();
        frame.push(VERSION);
        frame.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        frame.extend_from_slice(&body);
        let _ = decode_frame(&frame, MAX);
    }
}

#[test]
fn hello_round_trips() {
    let hello = Hello {
        from: ServerId(3),
        to: ServerId(1),
        members: vec![(ServerId(1), false), (ServerId(2), false), (ServerId(3), true)],
    };
    let mut out = Vec::new();
    encode_hello(&hello, &mut out);
    assert_eq!(decode_frame(&out, MAX), Ok(PeerFrame::Hello(hello)));
}

#[test]
fn bad_version_checksum_length_and_trailing_bytes_are_named() {
    let good = encoded(&PeerMsg::Commit(Zxid(5)));
    let mut v = good.clone();
    v[4] = 9;
    assert_eq!(decode_frame(&v, MAX), Err(PeerCodecError::BadVersion { found: 9 }));
    let mut c = good.clone();
    let last = c.len() - 1;
    c[last] ^= 0xff;
    assert!(matches!(decode_frame(&c, MAX), Err(PeerCodecError::BadChecksum { .. })));
    let mut t = good.clone();
    t.push(0);
    let err = decode_frame(&t, MAX).unwrap_err();
    assert!(err.to_string().contains("1 bytes after the frame"), "{err}");
    // A huge declared length is refused from the prefix alone, before any body arrives.
    let huge = [0x7f, 0xff, 0xff, 0xff];
    assert_eq!(
        decode_next(&huge, MAX),
        Err(PeerCodecError::BadLength { declared: i32::MAX as i64, max: MAX })
    );
    assert!(matches!(
        decode_next(&[0xff, 0xff, 0xff, 0xff], MAX),
        Err(PeerCodecError::BadLength { .. })
    ));
    // A frame too big for a smaller limit is refused the same way.
    let snap = encoded(&PeerMsg::Snap { zxid: Zxid(1), image: Bytes::from(vec![0u8; 100]) });
    assert!(matches!(decode_next(&snap, 50), Err(PeerCodecError::BadLength { .. })));
}

#[test]
fn a_body_with_extra_bytes_is_refused() {
    // A Ping body with one byte more, correctly framed and checksummed.
    let body = [tag::PING, 0];
    let mut frame = ((body.len() + 5) as i32).to_be_bytes().to_vec();
    frame.push(VERSION);
    frame.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    frame.extend_from_slice(&body);
    let err = decode_frame(&frame, MAX).unwrap_err();
    assert_eq!(err, PeerCodecError::Malformed("1 bytes after the ping message".into()));
}

#[test]
fn a_huge_declared_count_allocates_nothing() {
    // Pong claiming 2^31-1 sessions in a 9-byte body: refused by the count check.
    let mut body = vec![tag::PONG];
    body.extend_from_slice(&i32::MAX.to_be_bytes());
    body.extend_from_slice(&[0; 4]);
    let mut frame = ((body.len() + 5) as i32).to_be_bytes().to_vec();
    frame.push(VERSION);
    frame.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    frame.extend_from_slice(&body);
    assert!(matches!(decode_frame(&frame, MAX), Err(PeerCodecError::Malformed(_))));
}

/// The fuzz target's seeds (fuzz/seeds/peer_frame/) are frames of the current format: a
/// seed whose mode byte is odd is a body the target frames; each decodes and re-encodes
/// to the same bytes.
#[test]
fn fuzz_seeds_decode_in_the_current_format() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/peer_frame");
    for seed in std::fs::read_dir(&dir).expect("seed directory") {
        let path = seed.expect("seed").path();
        let bytes = std::fs::read(&path).expect("seed file");
        let (mode, body) = bytes.split_first().expect("a mode byte");
        assert_eq!(mode & 1, 1, "{}: seeds are bodies to frame", path.display());
        let mut frame = ((body.len() + HEADER_BYTES - 4) as u32).to_be_bytes().to_vec();
        frame.push(VERSION);
        frame.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
        frame.extend_from_slice(body);
        let decoded =
            decode_frame(&frame, 1 << 20).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut again = Vec::new();
        match &decoded {
            PeerFrame::Hello(h) => encode_hello(h, &mut again),
            PeerFrame::Msg(m) => encode_msg(m, &mut again),
        }
        assert_eq!(again, frame, "{}", path.display());
    }
}
