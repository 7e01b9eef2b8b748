//! Every request record a client can send after the handshake (`decode_request`), including
//! multi and multiRead with their sub-ops, setWatches/setWatches2, auth and sasl packets.
//!
//! Half of the inputs get a valid header for one of the opcodes ZooKeeper accepts, so the
//! fuzzer spends its time inside the record readers rather than rediscovering opcodes.
//! Checks: no panic, and what decodes re-encodes to something that decodes to the same
//! request (the encoder's own assertions hold for everything the decoder accepts).
#![no_main]

use keeper_core::proto::op;
use keeper_core::wire::codec;
use libfuzzer_sys::fuzz_target;

const OPS: &[i32] = &[
    op::CREATE,
    op::DELETE,
    op::EXISTS,
    op::GET_DATA,
    op::SET_DATA,
    op::GET_ACL,
    op::SET_ACL,
    op::GET_CHILDREN,
    op::SYNC,
    op::PING,
    op::GET_CHILDREN2,
    op::CHECK,
    op::MULTI,
    op::CREATE2,
    op::RECONFIG,
    op::CHECK_WATCHES,
    op::REMOVE_WATCHES,
    op::CREATE_CONTAINER,
    op::DELETE_CONTAINER,
    op::CREATE_TTL,
    op::MULTI_READ,
    op::AUTH,
    op::SET_WATCHES,
    op::SASL,
    op::GET_EPHEMERALS,
    op::GET_ALL_CHILDREN_NUMBER,
    op::SET_WATCHES2,
    op::ADD_WATCH,
    op::WHO_AM_I,
    op::CLOSE_SESSION,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let body: Vec<u8> = if pick & 0x80 == 0 {
        data.to_vec()
    } else {
        let code = OPS[usize::from(pick & 0x7f) % OPS.len()];
        let mut b = 7i32.to_be_bytes().to_vec();
        b.extend_from_slice(&code.to_be_bytes());
        b.extend_from_slice(rest);
        b
    };
    let Ok((xid, req)) = codec::decode_request(&body) else { return };
    let mut out = Vec::new();
    codec::encode_request(xid, &req, &mut out);
    assert_eq!(codec::decode_request(&out[4..]), Ok((xid, req)), "round trip");
});
