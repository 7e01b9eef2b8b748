//! Jute records shared by many messages: Stat, Id, ACL, ClientInfo, the request and reply
//! headers, WatcherEvent, and the handshake's ConnectRequest / ConnectResponse.
//!
//! Each record is written as ZooKeeper's `zookeeper.jute` declares it: fields concatenated
//! in declaration order, no tags, no padding. Invariant: for every record here,
//! `read_x(write_x(v)) == v`, and a reader never allocates more elements than the bytes
//! left could hold (vector counts go through [`Reader::count`] with the element's minimum
//! encoded size).

use bytes::Bytes;

use crate::ids::{SessionId, Zxid};
use crate::proto::{
    Acl, ClientInfo, ConnectRequest, ConnectResponse, EventType, Id, ReplyHeader, RequestHeader,
    Stat, WatchedEvent,
};
use crate::wire::jute::{DecodeError, DecodeResult, Reader, Writer};

/// Bytes of a Stat on the wire: 6 longs and 5 ints (ZK-REFERENCE.md §3).
pub const STAT_BYTES: usize = 6 * 8 + 5 * 4;
/// Smallest encoded ACL: perms plus two empty strings.
pub const MIN_ACL_BYTES: usize = 4 + 4 + 4;
/// Smallest encoded ClientInfo: two empty strings.
pub const MIN_CLIENT_INFO_BYTES: usize = 4 + 4;
/// Bytes of a RequestHeader {int xid, int type}.
pub const REQUEST_HEADER_BYTES: usize = 4 + 4;
/// Bytes of a ReplyHeader {int xid, long zxid, int err}.
pub const REPLY_HEADER_BYTES: usize = 4 + 8 + 4;

const _: () = assert!(STAT_BYTES == 68);

/// Writes a Stat in its 68-byte wire order.
pub fn write_stat(w: &mut Writer, stat: &Stat) {
    // Assembled on the stack and appended at once: one capacity check instead of eleven
    // (every exists and getData reply carries a Stat).
    let mut b = [0u8; STAT_BYTES];
    b[0..8].copy_from_slice(&stat.czxid.to_be_bytes());
    b[8..16].copy_from_slice(&stat.mzxid.to_be_bytes());
    b[16..24].copy_from_slice(&stat.ctime.to_be_bytes());
    b[24..32].copy_from_slice(&stat.mtime.to_be_bytes());
    b[32..36].copy_from_slice(&stat.version.to_be_bytes());
    b[36..40].copy_from_slice(&stat.cversion.to_be_bytes());
    b[40..44].copy_from_slice(&stat.aversion.to_be_bytes());
    b[44..52].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    b[52..56].copy_from_slice(&stat.data_length.to_be_bytes());
    b[56..60].copy_from_slice(&stat.num_children.to_be_bytes());
    b[60..68].copy_from_slice(&stat.pzxid.to_be_bytes());
    w.raw(&b);
}

/// Reads a Stat.
pub fn read_stat(r: &mut Reader) -> DecodeResult<Stat> {
    if r.remaining() < STAT_BYTES {
        return Err(DecodeError::Incomplete);
    }
    Ok(Stat {
        czxid: r.i64()?,
        mzxid: r.i64()?,
        ctime: r.i64()?,
        mtime: r.i64()?,
        version: r.i32()?,
        cversion: r.i32()?,
        aversion: r.i32()?,
        ephemeral_owner: r.i64()?,
        data_length: r.i32()?,
        num_children: r.i32()?,
        pzxid: r.i64()?,
    })
}

/// Writes an Id {ustring scheme, ustring id}.
pub fn write_id(w: &mut Writer, id: &Id) {
    w.string(&id.scheme);
    w.string(&id.id);
}

/// Reads an Id; null strings read as empty.
pub fn read_id(r: &mut Reader) -> DecodeResult<Id> {
    Ok(Id { scheme: r.string()?, id: r.string()? })
}

/// Writes a `vector<ACL>`.
pub fn write_acls(w: &mut Writer, acls: &[Acl]) {
    w.i32(vec_count(acls.len()));
    for acl in acls {
        w.i32(acl.perms);
        write_id(w, &acl.id);
    }
}

/// Reads a `vector<ACL>`; a null vector reads as empty.
pub fn read_acls(r: &mut Reader) -> DecodeResult<Vec<Acl>> {
    let n = r.count(MIN_ACL_BYTES)?;
    let mut acls = r.vec_for(n);
    for _ in 0..n {
        let perms = r.i32()?;
        acls.push(Acl { perms, id: read_id(r)? });
    }
    Ok(acls)
}

/// Writes a `vector<ClientInfo>` (whoAmI's answer).
pub fn write_client_infos(w: &mut Writer, infos: &[ClientInfo]) {
    w.i32(vec_count(infos.len()));
    for info in infos {
        w.string(&info.auth_scheme);
        w.string(&info.user);
    }
}

/// Reads a `vector<ClientInfo>`.
pub fn read_client_infos(r: &mut Reader) -> DecodeResult<Vec<ClientInfo>> {
    let n = r.count(MIN_CLIENT_INFO_BYTES)?;
    let mut infos = r.vec_for(n);
    for _ in 0..n {
        infos.push(ClientInfo { auth_scheme: r.string()?, user: r.string()? });
    }
    Ok(infos)
}

/// Writes a RequestHeader {int xid, int type}.
pub fn write_request_header(w: &mut Writer, header: &RequestHeader) {
    w.i32(header.xid);
    w.i32(header.op);
}

/// Reads a RequestHeader.
pub fn read_request_header(r: &mut Reader) -> DecodeResult<RequestHeader> {
    Ok(RequestHeader { xid: r.i32()?, op: r.i32()? })
}

/// Writes a ReplyHeader {int xid, long zxid, int err}.
pub fn write_reply_header(w: &mut Writer, header: &ReplyHeader) {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&header.xid.to_be_bytes());
    b[4..12].copy_from_slice(&header.zxid.to_be_bytes());
    b[12..16].copy_from_slice(&header.err.to_be_bytes());
    w.raw(&b);
}

/// Reads a ReplyHeader.
pub fn read_reply_header(r: &mut Reader) -> DecodeResult<ReplyHeader> {
    Ok(ReplyHeader { xid: r.i32()?, zxid: r.i64()?, err: r.i32()? })
}

/// Writes a WatcherEvent {int type, int state, ustring path}.
pub fn write_watcher_event(w: &mut Writer, event: &WatchedEvent) {
    w.i32(event.event_type as i32);
    w.i32(event.state);
    w.string(&event.path);
}

/// Reads a WatcherEvent; an event type ZooKeeper does not define is invalid.
pub fn read_watcher_event(r: &mut Reader) -> DecodeResult<WatchedEvent> {
    let code = r.i32()?;
    let state = r.i32()?;
    let path = r.string()?;
    let Some(event_type) = EventType::from_code(code) else {
        return Err(DecodeError::Invalid(format!("unknown watch event type {code}")));
    };
    Ok(WatchedEvent { event_type, state, path })
}

/// Writes a ConnectRequest; the readOnly byte only when the request carries one.
pub fn write_connect_request(w: &mut Writer, req: &ConnectRequest) {
    w.i32(req.protocol_version);
    w.i64(req.last_zxid_seen.as_i64());
    w.i32(req.timeout_ms);
    w.i64(req.session_id.0);
    w.buffer(&req.passwd);
    if let Some(read_only) = req.read_only {
        w.bool(read_only);
    }
}

/// Reads a ConnectRequest. The trailing readOnly byte is optional, as in ZooKeeper's
/// `ProtocolManager`: clients up to 3.3 do not send it, and the answer must then omit it.
/// Bytes after it are ignored, as Java's reader ignores what it does not ask for.
pub fn read_connect_request(r: &mut Reader) -> DecodeResult<ConnectRequest> {
    let protocol_version = r.i32()?;
    let last_zxid_seen = Zxid::from_i64(r.i64()?);
    let timeout_ms = r.i32()?;
    let session_id = SessionId(r.i64()?);
    let passwd = r.buffer()?;
    let read_only = if r.is_empty() { None } else { Some(r.bool()?) };
    Ok(ConnectRequest {
        protocol_version,
        last_zxid_seen,
        timeout_ms,
        session_id,
        passwd,
        read_only,
    })
}

/// Writes a ConnectResponse; the readOnly byte only when the response carries one.
pub fn write_connect_response(w: &mut Writer, resp: &ConnectResponse) {
    w.i32(resp.protocol_version);
    w.i32(resp.timeout_ms);
    w.i64(resp.session_id.0);
    w.buffer(&resp.passwd);
    if let Some(read_only) = resp.read_only {
        w.bool(read_only);
    }
}

/// Reads a ConnectResponse; the trailing readOnly byte is optional (servers up to 3.3, and
/// any server answering an old client, omit it).
pub fn read_connect_response(r: &mut Reader) -> DecodeResult<ConnectResponse> {
    let protocol_version = r.i32()?;
    let timeout_ms = r.i32()?;
    let session_id = SessionId(r.i64()?);
    let passwd: Bytes = r.buffer()?;
    let read_only = if r.is_empty() { None } else { Some(r.bool()?) };
    Ok(ConnectResponse { protocol_version, timeout_ms, session_id, passwd, read_only })
}

/// A vector's element count as Jute's int; a vector past i32::MAX elements cannot be
/// encoded, and nothing the node builds comes near it.
pub(crate) fn vec_count(len: usize) -> i32 {
    i32::try_from(len).expect("a Jute vector holds at most i32::MAX elements")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_68_bytes_in_field_order() {
        let stat = Stat { czxid: 1, pzxid: 2, num_children: 3, ..Stat::default() };
        let mut w = Writer::new();
        write_stat(&mut w, &stat);
        let bytes = w.into_vec();
        assert_eq!(bytes.len(), 68);
        assert_eq!(&bytes[..8], &1i64.to_be_bytes());
        assert_eq!(&bytes[56..60], &3i32.to_be_bytes());
        assert_eq!(&bytes[60..], &2i64.to_be_bytes());
        assert_eq!(read_stat(&mut Reader::new(&bytes)), Ok(stat));
        assert_eq!(read_stat(&mut Reader::new(&bytes[..67])), Err(DecodeError::Incomplete));
    }

    #[test]
    fn acl_count_beyond_the_bytes_is_refused_before_allocating() {
        let mut w = Writer::new();
        w.i32(1_000_000);
        w.i32(31);
        let bytes = w.into_vec();
        assert!(matches!(read_acls(&mut Reader::new(&bytes)), Err(DecodeError::Invalid(_))));
    }
}
