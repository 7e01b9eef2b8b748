//! Encoding and decoding of whole client-protocol messages. CONTRACT STUB.

use crate::proto::{ConnectRequest, ConnectResponse, ReplyResult, Request, WatchedEvent};
use crate::wire::jute::DecodeResult;

/// Why a request frame could not become a `Request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The header could not be read at all.
    BadHeader,
    /// The opcode is not one ZooKeeper accepts from clients.
    UnknownOp { xid: i32, op: i32 },
    /// The body does not decode as the opcode's record.
    BadBody { xid: i32, op: i32 },
}

/// Length of the complete frame at the start of `buf` (prefix included), `Ok(None)` when
/// more bytes are needed, `Err(len)` when the declared length is negative or over `max`.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, i64> {
    let _ = (buf, max);
    todo!()
}

/// Decodes a ConnectRequest frame body (prefix stripped).
pub fn decode_connect_request(body: &[u8]) -> DecodeResult<ConnectRequest> {
    let _ = body;
    todo!()
}

/// Appends a framed ConnectResponse.
pub fn encode_connect_response(resp: &ConnectResponse, out: &mut Vec<u8>) {
    let _ = (resp, out);
    todo!()
}

/// Decodes a request frame body (prefix stripped).
pub fn decode_request(body: &[u8]) -> Result<(i32, Request), RequestError> {
    let _ = body;
    todo!()
}

/// Appends a framed reply.
pub fn encode_reply(xid: i32, zxid: i64, result: &ReplyResult, out: &mut Vec<u8>) {
    let _ = (xid, zxid, result, out);
    todo!()
}

/// Appends a framed watch notification.
pub fn encode_notification(zxid: i64, event: &WatchedEvent, out: &mut Vec<u8>) {
    let _ = (zxid, event, out);
    todo!()
}
