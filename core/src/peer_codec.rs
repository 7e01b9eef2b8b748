//! The server-to-server wire format: every [`PeerMsg`] (and the hello that opens a
//! connection) as one checksummed frame. Sans-IO: bytes in, values out.
//!
//! A frame is a 4-byte big-endian length (of what follows), a format version byte
//! ([`VERSION`]), a crc32c of the body (4 bytes, big-endian), then the body: a tag byte and
//! the message's fields in Jute encoding (transactions with the log's own
//! [`encode_txn_record`], forwarded requests as the client protocol's request record,
//! snapshot images as the snapshot file image they already are).
//!
//! Invariant: decoding never panics and never allocates more than the frame holds; a frame
//! whose declared length passes the caller's limit is refused as soon as its prefix is
//! read, before any of it is buffered; a bad version, a checksum mismatch, an unknown tag,
//! a malformed field or trailing bytes each give a [`PeerCodecError`] that says which.
//! `decode_frame(encode(m)) == m` for every message.

use std::fmt;

use bytes::Bytes;

use crate::acl::AuthContext;
use crate::election::{Notification, PeerState, SenderConfig, Vote};
use crate::ids::{ServerId, SessionId, Zxid};
use crate::peer::{Forward, PeerMsg};
use crate::persist::txn_codec::{decode_txn_record, encode_txn_record_into};
use crate::txn::TxnRecord;
use crate::wire::codec::{decode_request, encode_request, RequestError};
use crate::wire::jute::{DecodeError, Reader, Writer};
use crate::wire::records::{read_id, write_id};

/// The peer protocol version this build speaks.
pub const VERSION: u8 = 2;
/// Bytes before the body: length prefix, version, checksum.
pub const HEADER_BYTES: usize = 4 + 1 + 4;
/// Default bound on one frame (prefix excluded): a SNAP carries the whole snapshot image.
pub const DEFAULT_MAX_FRAME: usize = 512 * 1024 * 1024;

/// The first frame on every server-to-server connection, from the side that dialled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The dialling server's id (its `myid`).
    pub from: ServerId,
    /// The server it meant to reach; the acceptor refuses a hello meant for another id.
    pub to: ServerId,
    /// The members the dialler's configuration lists, `(id, observer)`, sorted by id: the
    /// cluster shape it expects.
    pub members: Vec<(ServerId, bool)>,
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerFrame {
    Hello(Hello),
    Msg(PeerMsg),
}

/// Why peer bytes were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerCodecError {
    /// The declared length is negative, shorter than the header, or over the limit.
    BadLength { declared: i64, max: usize },
    /// The frame speaks a version this build does not.
    BadVersion { found: u8 },
    /// The body's crc32c does not match the one in the header.
    BadChecksum { expected: u32, found: u32 },
    /// The body is not a valid message; the text says what was wrong.
    Malformed(String),
}

impl fmt::Display for PeerCodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerCodecError::BadLength { declared, max } => {
                write!(f, "peer frame length {declared} outside 5..={max}")
            }
            PeerCodecError::BadVersion { found } => {
                write!(f, "peer protocol version {found}, this server speaks {VERSION}")
            }
            PeerCodecError::BadChecksum { expected, found } => {
                write!(f, "peer frame checksum {found:#010x}, header says {expected:#010x}")
            }
            PeerCodecError::Malformed(why) => write!(f, "malformed peer message: {why}"),
        }
    }
}

impl std::error::Error for PeerCodecError {}

impl From<DecodeError> for PeerCodecError {
    fn from(e: DecodeError) -> PeerCodecError {
        match e {
            DecodeError::Incomplete => {
                PeerCodecError::Malformed("a field runs past the end".into())
            }
            DecodeError::Invalid(why) => PeerCodecError::Malformed(why),
        }
    }
}

type Result<T> = std::result::Result<T, PeerCodecError>;

mod tag {
    pub const HELLO: u8 = 0;
    pub const VOTE: u8 = 1;
    pub const LEARNER_INFO: u8 = 2;
    pub const LEADER_INFO: u8 = 3;
    pub const ACK_EPOCH: u8 = 4;
    pub const DIFF: u8 = 5;
    pub const SNAP: u8 = 6;
    pub const PROPOSAL: u8 = 7;
    pub const COMMIT: u8 = 8;
    pub const INFORM: u8 = 9;
    pub const NEW_LEADER: u8 = 10;
    pub const ACK: u8 = 11;
    pub const UP_TO_DATE: u8 = 12;
    pub const PING: u8 = 13;
    pub const PONG: u8 = 14;
    pub const FORWARD: u8 = 15;
    pub const SYNCED: u8 = 16;
}

/// Appends one framed message to `out`.
pub fn encode_msg(msg: &PeerMsg, out: &mut Vec<u8>) {
    frame(out, |w| write_msg(w, msg));
}

/// Appends a framed hello to `out`.
pub fn encode_hello(hello: &Hello, out: &mut Vec<u8>) {
    frame(out, |w| {
        w.u8(tag::HELLO);
        w.i64(hello.from.0 as i64);
        w.i64(hello.to.0 as i64);
        w.i32(hello.members.len() as i32);
        for (id, observer) in &hello.members {
            w.i64(id.0 as i64);
            w.bool(*observer);
        }
    });
}

fn frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Writer)) {
    let start = out.len();
    let mut w = Writer::from_vec(std::mem::take(out));
    w.i32(0);
    w.u8(VERSION);
    w.i32(0);
    body(&mut w);
    let mut bytes = w.into_vec();
    let body_start = start + HEADER_BYTES;
    let crc = crc32c::crc32c(&bytes[body_start..]);
    let declared = i32::try_from(bytes.len() - start - 4).expect("a peer frame fits an i32");
    bytes[start..start + 4].copy_from_slice(&declared.to_be_bytes());
    bytes[start + 5..start + 9].copy_from_slice(&crc.to_be_bytes());
    *out = bytes;
}

/// Length of the complete frame at the start of `buf` (prefix included), `Ok(None)` when
/// more bytes are needed. A length outside `5..=max` is an error as soon as the prefix is
/// there, so a peer cannot make the caller buffer an oversized frame.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>> {
    let Some(prefix) = buf.first_chunk::<4>() else { return Ok(None) };
    let declared = i32::from_be_bytes(*prefix);
    if declared < (HEADER_BYTES - 4) as i32 || declared as usize > max {
        return Err(PeerCodecError::BadLength { declared: i64::from(declared), max });
    }
    let total = 4 + declared as usize;
    Ok((buf.len() >= total).then_some(total))
}

/// Decodes the frame at the start of `buf`: `Ok(None)` when it is not complete yet,
/// otherwise the frame and how many bytes it took.
pub fn decode_next(buf: &[u8], max: usize) -> Result<Option<(PeerFrame, usize)>> {
    let Some(len) = frame_len(buf, max)? else { return Ok(None) };
    Ok(Some((decode_frame(&buf[..len], max)?, len)))
}

/// Decodes exactly one whole frame (prefix included); bytes after it are an error.
pub fn decode_frame(frame: &[u8], max: usize) -> Result<PeerFrame> {
    let len = frame_len(frame, max)?.ok_or_else(|| {
        PeerCodecError::Malformed(format!("frame of {} bytes is cut short", frame.len()))
    })?;
    if len != frame.len() {
        return Err(PeerCodecError::Malformed(format!(
            "{} bytes after the frame",
            frame.len() - len
        )));
    }
    let version = frame[4];
    if version != VERSION {
        return Err(PeerCodecError::BadVersion { found: version });
    }
    let expected = u32::from_be_bytes([frame[5], frame[6], frame[7], frame[8]]);
    let body = &frame[HEADER_BYTES..];
    let found = crc32c::crc32c(body);
    if found != expected {
        return Err(PeerCodecError::BadChecksum { expected, found });
    }
    let mut r = Reader::new(body);
    let decoded = read_frame(&mut r)?;
    if !r.is_empty() {
        return Err(PeerCodecError::Malformed(format!(
            "{} bytes after the {} message",
            r.remaining(),
            match &decoded {
                PeerFrame::Hello(_) => "hello",
                PeerFrame::Msg(m) => m.kind(),
            }
        )));
    }
    Ok(decoded)
}

fn write_zxid(w: &mut Writer, z: Zxid) {
    w.i64(z.as_i64());
}

fn write_txn(w: &mut Writer, rec: &TxnRecord) {
    let at = w.len();
    w.i32(0);
    let mut body = Vec::new();
    encode_txn_record_into(rec, &mut body);
    w.raw(&body);
    w.patch_i32(at, body.len() as i32);
}

fn write_msg(w: &mut Writer, msg: &PeerMsg) {
    match msg {
        PeerMsg::Vote(n) => {
            w.u8(tag::VOTE);
            w.u8(n.state as u8);
            w.i64(n.vote.leader.0 as i64);
            write_zxid(w, n.vote.zxid);
            w.i32(n.vote.peer_epoch as i32);
            w.i64(n.election_epoch as i64);
            w.i64(n.config.version as i64);
            w.buffer(&n.config.text);
        }
        PeerMsg::LearnerInfo { accepted_epoch, last_zxid, observer } => {
            w.u8(tag::LEARNER_INFO);
            w.i32(*accepted_epoch as i32);
            write_zxid(w, *last_zxid);
            w.bool(*observer);
        }
        PeerMsg::LeaderInfo { epoch } => {
            w.u8(tag::LEADER_INFO);
            w.i32(*epoch as i32);
        }
        PeerMsg::AckEpoch { current_epoch, last_zxid } => {
            w.u8(tag::ACK_EPOCH);
            w.i32(*current_epoch as i32);
            write_zxid(w, *last_zxid);
        }
        PeerMsg::Diff { after } => {
            w.u8(tag::DIFF);
            write_zxid(w, *after);
        }
        PeerMsg::Snap { zxid, image } => {
            w.u8(tag::SNAP);
            write_zxid(w, *zxid);
            w.buffer(image);
        }
        PeerMsg::Proposal(rec) => {
            w.u8(tag::PROPOSAL);
            write_txn(w, rec);
        }
        PeerMsg::Commit(z) => {
            w.u8(tag::COMMIT);
            write_zxid(w, *z);
        }
        PeerMsg::Inform(rec) => {
            w.u8(tag::INFORM);
            write_txn(w, rec);
        }
        PeerMsg::NewLeader { epoch } => {
            w.u8(tag::NEW_LEADER);
            w.i32(*epoch as i32);
        }
        PeerMsg::Ack { zxid } => {
            w.u8(tag::ACK);
            write_zxid(w, *zxid);
        }
        PeerMsg::UpToDate { committed } => {
            w.u8(tag::UP_TO_DATE);
            write_zxid(w, *committed);
        }
        PeerMsg::Ping => w.u8(tag::PING),
        PeerMsg::Pong { touched } => {
            w.u8(tag::PONG);
            w.i32(touched.len() as i32);
            for s in touched {
                w.i64(s.0);
            }
        }
        PeerMsg::Forward(f) => {
            w.u8(tag::FORWARD);
            write_forward(w, f);
        }
        PeerMsg::Synced { session, cxid } => {
            w.u8(tag::SYNCED);
            w.i64(session.0);
            w.i32(*cxid);
        }
    }
}

fn write_forward(w: &mut Writer, f: &Forward) {
    match f {
        Forward::Write { session, cxid, auth, req, wall_ms } => {
            w.u8(1);
            w.i64(session.0);
            w.i32(*cxid);
            w.i32(auth.ids.len() as i32);
            for id in &auth.ids {
                write_id(w, id);
            }
            w.bool(auth.is_super);
            w.i64(*wall_ms as i64);
            // The client protocol's own request record (header with the cxid, then body).
            let mut framed = Vec::new();
            encode_request(*cxid, req, &mut framed);
            w.buffer(&framed[4..]);
        }
        Forward::CreateSession { session, timeout_ms } => {
            w.u8(2);
            w.i64(session.0);
            w.i32(*timeout_ms);
        }
        Forward::CloseSession { session, cxid } => {
            w.u8(3);
            w.i64(session.0);
            w.i32(*cxid);
        }
        Forward::Sync { session, cxid } => {
            w.u8(4);
            w.i64(session.0);
            w.i32(*cxid);
        }
    }
}

fn zxid(r: &mut Reader) -> Result<Zxid> {
    Ok(Zxid::from_i64(r.i64()?))
}

fn epoch(r: &mut Reader) -> Result<u32> {
    Ok(r.i32()? as u32)
}

fn server_id(r: &mut Reader) -> Result<ServerId> {
    let v = r.i64()?;
    if v < 0 {
        return Err(PeerCodecError::Malformed(format!("negative server id {v}")));
    }
    Ok(ServerId(v as u64))
}

fn txn(r: &mut Reader) -> Result<TxnRecord> {
    let body =
        r.buffer_opt()?.ok_or_else(|| PeerCodecError::Malformed("null transaction".into()))?;
    decode_txn_record(body).map_err(|e| PeerCodecError::Malformed(format!("transaction: {e}")))
}

fn read_frame(r: &mut Reader) -> Result<PeerFrame> {
    let t = r.u8()?;
    if t == tag::HELLO {
        let from = server_id(r)?;
        let to = server_id(r)?;
        let n = r.count(9)?;
        let mut members = r.vec_for(n);
        for _ in 0..n {
            members.push((server_id(r)?, r.bool()?));
        }
        return Ok(PeerFrame::Hello(Hello { from, to, members }));
    }
    Ok(PeerFrame::Msg(match t {
        tag::VOTE => {
            let state = match r.u8()? {
                0 => PeerState::Looking,
                1 => PeerState::Following,
                2 => PeerState::Leading,
                3 => PeerState::Observing,
                other => return Err(PeerCodecError::Malformed(format!("peer state {other}"))),
            };
            let leader = server_id(r)?;
            let vote = Vote { leader, zxid: zxid(r)?, peer_epoch: epoch(r)? };
            let election_epoch = r.i64()? as u64;
            let version = r.i64()? as u64;
            let text = r
                .buffer_opt()?
                .ok_or_else(|| PeerCodecError::Malformed("null configuration".into()))?;
            let config = SenderConfig { version, text: Bytes::copy_from_slice(text) };
            PeerMsg::Vote(Notification { state, vote, election_epoch, config })
        }
        tag::LEARNER_INFO => PeerMsg::LearnerInfo {
            accepted_epoch: epoch(r)?,
            last_zxid: zxid(r)?,
            observer: r.bool()?,
        },
        tag::LEADER_INFO => PeerMsg::LeaderInfo { epoch: epoch(r)? },
        tag::ACK_EPOCH => PeerMsg::AckEpoch { current_epoch: epoch(r)?, last_zxid: zxid(r)? },
        tag::DIFF => PeerMsg::Diff { after: zxid(r)? },
        tag::SNAP => {
            let zxid = zxid(r)?;
            let image = r
                .buffer_opt()?
                .ok_or_else(|| PeerCodecError::Malformed("null snapshot image".into()))?;
            PeerMsg::Snap { zxid, image: Bytes::copy_from_slice(image) }
        }
        tag::PROPOSAL => PeerMsg::Proposal(txn(r)?),
        tag::COMMIT => PeerMsg::Commit(zxid(r)?),
        tag::INFORM => PeerMsg::Inform(txn(r)?),
        tag::NEW_LEADER => PeerMsg::NewLeader { epoch: epoch(r)? },
        tag::ACK => PeerMsg::Ack { zxid: zxid(r)? },
        tag::UP_TO_DATE => PeerMsg::UpToDate { committed: zxid(r)? },
        tag::PING => PeerMsg::Ping,
        tag::PONG => {
            let n = r.count(8)?;
            let mut touched = r.vec_for(n);
            for _ in 0..n {
                touched.push(SessionId(r.i64()?));
            }
            PeerMsg::Pong { touched }
        }
        tag::FORWARD => PeerMsg::Forward(read_forward(r)?),
        tag::SYNCED => PeerMsg::Synced { session: SessionId(r.i64()?), cxid: r.i32()? },
        other => return Err(PeerCodecError::Malformed(format!("unknown message tag {other}"))),
    }))
}

fn read_forward(r: &mut Reader) -> Result<Forward> {
    Ok(match r.u8()? {
        1 => {
            let session = SessionId(r.i64()?);
            let cxid = r.i32()?;
            // An id is two strings, at least 8 bytes.
            let n = r.count(8)?;
            let mut ids = r.vec_for(n);
            for _ in 0..n {
                ids.push(read_id(r)?);
            }
            let auth = AuthContext { ids, is_super: r.bool()? };
            let wall_ms = r.i64()? as u64;
            let body =
                r.buffer_opt()?.ok_or_else(|| PeerCodecError::Malformed("null request".into()))?;
            let (xid, req) = decode_request(body).map_err(|e| {
                PeerCodecError::Malformed(match e {
                    RequestError::BadHeader => "forwarded request header".to_string(),
                    RequestError::UnknownOp { op, .. } => format!("forwarded opcode {op}"),
                    RequestError::BadBody { op, .. } => format!("forwarded request body (op {op})"),
                })
            })?;
            if xid != cxid {
                return Err(PeerCodecError::Malformed(format!(
                    "forwarded request xid {xid} differs from cxid {cxid}"
                )));
            }
            Forward::Write { session, cxid, auth, req, wall_ms }
        }
        2 => Forward::CreateSession { session: SessionId(r.i64()?), timeout_ms: r.i32()? },
        3 => Forward::CloseSession { session: SessionId(r.i64()?), cxid: r.i32()? },
        4 => Forward::Sync { session: SessionId(r.i64()?), cxid: r.i32()? },
        other => return Err(PeerCodecError::Malformed(format!("unknown forward kind {other}"))),
    })
}

#[cfg(test)]
#[path = "peer_codec_tests.rs"]
mod tests;
