//! Reading Apache ZooKeeper's own data files (`version-2/snapshot.*`, `version-2/log.*`), so
//! an ensemble can move to keeper without a dump through a client (`keeper import-zk`).
//!
//! Formats, as ZooKeeper 3.5-3.9 write them (FileSnap, FileTxnLog, SerializeUtils,
//! DataTree.serialize, ReferenceCountedACLCache):
//! - snapshot: FileHeader{int magic "ZKSN", int version 2, long dbid}, int session count +
//!   (long id, int timeout) pairs, the ACL cache (int count + (long ref, vector<ACL>)),
//!   then (ustring path, DataNode{buffer data, long aclRef, StatPersisted}) records in
//!   pre-order from the root (path "") ending with the path "/", then a seal: long
//!   Adler-32 of every byte before it and the string "/"; optionally a ZxidDigest{long zxid,
//!   int version, long digest} and a second seal.
//! - log: FileHeader{"ZKLG", 2, 0}, then entries {long Adler-32 of the entry, buffer entry
//!   = TxnHeader + txn record [+ TxnDigest], byte 0x42}, until EOF or a zero length
//!   (preallocation).
//!
//! Nothing here panics on bad bytes: every failure names the offset. Invariant: a parsed
//! log record's checksum matched, so a record is either returned whole or not at all.

use bytes::Bytes;

use crate::ids::{SessionId, Zxid};
use crate::proto::{op, Acl};
use crate::tree::StoredStat;
use crate::txn::{Txn, TxnHeader, TxnRecord, CONTAINER_OWNER, TTL_OWNER_MASK};
use crate::wire::jute::{DecodeError, Reader};
use crate::wire::records::read_acls;

/// One znode of a ZooKeeper snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkNode {
    /// The absolute path; the root is "/".
    pub path: String,
    /// `None` for null data (ZooKeeper keeps null apart from empty).
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    /// ZooKeeper's StatPersisted, which has keeper's stored-stat layout exactly.
    pub stat: StoredStat,
}

/// A parsed ZooKeeper snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkSnapshot {
    /// Sessions and their timeouts, in file order.
    pub sessions: Vec<(SessionId, i32)>,
    /// Nodes in pre-order (parents before children).
    pub nodes: Vec<ZkNode>,
    /// The zxid recorded with the digest, when the file has one.
    pub digest_zxid: Option<Zxid>,
}

/// A parsed ZooKeeper transaction log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkLog {
    pub records: Vec<TxnRecord>,
    /// Where each record's entry starts in the file.
    pub record_offsets: Vec<usize>,
    /// Set when the scan stopped at a partial or damaged entry (at this offset).
    pub torn_at: Option<usize>,
    /// With `torn_at`: true when nothing but zeros follows the damaged entry, as after a
    /// write cut short by a crash in a preallocated file; false when data follows it
    /// (something was written after the damage: corruption, not a torn tail).
    pub tail_is_zeros: bool,
}

/// The file format version ZooKeeper 3.x writes in both headers (`version-2`).
pub const ZK_FORMAT_VERSION: i32 = 2;

const SNAP_MAGIC: i32 = 0x5a4b_534e; // "ZKSN"
const LOG_MAGIC: i32 = 0x5a4b_4c47; // "ZKLG"

fn at(r: &Reader<'_>, what: &str, e: DecodeError) -> String {
    format!("{what} at offset {}: {e}", r.position())
}

fn seal(bytes: &[u8], r: &mut Reader<'_>) -> Result<(), String> {
    let expected = adler2::adler32_slice(&bytes[..r.position()]) as i64;
    let val = r.i64().map_err(|e| at(r, "snapshot seal", e))?;
    let slash = r.string().map_err(|e| at(r, "snapshot seal", e))?;
    if val != expected || slash != "/" {
        return Err(format!(
            "snapshot checksum mismatch at offset {} (file is corrupt)",
            r.position()
        ));
    }
    Ok(())
}

/// Parses a ZooKeeper snapshot file.
pub fn parse_snapshot(bytes: &[u8]) -> Result<ZkSnapshot, String> {
    let mut r = Reader::new(bytes);
    let magic = r.i32().map_err(|e| at(&r, "snapshot header", e))?;
    if magic != SNAP_MAGIC {
        return Err(format!("not a ZooKeeper snapshot (magic {magic:#x})"));
    }
    let version = r.i32().map_err(|e| at(&r, "snapshot header", e))?;
    if version != ZK_FORMAT_VERSION {
        return Err(format!(
            "unsupported ZooKeeper snapshot format version {version} (expected 2)"
        ));
    }
    r.i64().map_err(|e| at(&r, "snapshot header", e))?; // dbid, unused
    type Body = (Vec<(SessionId, i32)>, Vec<ZkNode>);
    let mut body = || -> Result<Body, DecodeError> {
        let n = r.count(12)?;
        let mut sessions = r.vec_for(n);
        for _ in 0..n {
            sessions.push((SessionId(r.i64()?), r.i32()?));
        }
        let n = r.count(12)?;
        let mut acl_cache = std::collections::BTreeMap::new();
        for _ in 0..n {
            let key = r.i64()?;
            acl_cache.insert(key, read_acls(&mut r)?);
        }
        let mut nodes = Vec::new();
        loop {
            let path = r.string()?;
            if path == "/" {
                break;
            }
            let data = r.data()?;
            let acl_ref = r.i64()?;
            let stat = StoredStat::decode(&mut r)?;
            let acl = match acl_ref {
                -1 => Acl::open_unsafe(),
                key => acl_cache.get(&key).cloned().ok_or_else(|| {
                    DecodeError::Invalid(format!("node {path} names unknown ACL {key}"))
                })?,
            };
            let path = if path.is_empty() { "/".to_string() } else { path };
            nodes.push(ZkNode { path, data, acl, stat });
        }
        Ok((sessions, nodes))
    };
    let (sessions, nodes) = body().map_err(|e| format!("snapshot body: {e}"))?;
    seal(bytes, &mut r)?;
    let mut digest_zxid = None;
    if !r.is_empty() {
        let zxid = r.i64().map_err(|e| at(&r, "snapshot digest", e))?;
        let _ = r.i32().and_then(|_| r.i64()).map_err(|e| at(&r, "snapshot digest", e))?;
        seal(bytes, &mut r)?;
        digest_zxid = Some(Zxid::from_i64(zxid));
    }
    Ok(ZkSnapshot { sessions, nodes, digest_zxid })
}

/// Parses a ZooKeeper transaction log file. A torn or corrupt final entry ends the scan
/// (`torn_at`), as ZooKeeper itself stops there.
pub fn parse_log(bytes: &[u8]) -> Result<ZkLog, String> {
    let mut r = Reader::new(bytes);
    let magic = r.i32().map_err(|e| at(&r, "log header", e))?;
    if magic != LOG_MAGIC {
        return Err(format!("not a ZooKeeper transaction log (magic {magic:#x})"));
    }
    let version = r.i32().map_err(|e| at(&r, "log header", e))?;
    if version != ZK_FORMAT_VERSION {
        return Err(format!("unsupported ZooKeeper log format version {version} (expected 2)"));
    }
    r.i64().map_err(|e| at(&r, "log header", e))?; // dbid, unused
    let mut records = Vec::new();
    let mut record_offsets = Vec::new();
    let mut torn_at = None;
    let mut tail_is_zeros = false;
    while !r.is_empty() {
        let start = r.position();
        let entry = (|| -> Result<Option<(i64, &[u8])>, DecodeError> {
            let crc = r.i64()?;
            let Some(buf) = r.buffer_opt()? else { return Ok(None) };
            if buf.is_empty() {
                return Ok(None); // preallocated zeros: the end of the log
            }
            if r.u8()? != 0x42 {
                return Err(DecodeError::Invalid("missing end-of-record byte".into()));
            }
            Ok(Some((crc, buf)))
        })();
        match entry {
            Ok(None) => break,
            Ok(Some((crc, buf))) if adler2::adler32_slice(buf) as i64 == crc => {
                let rec =
                    parse_txn(buf).map_err(|e| format!("log entry at offset {start}: {e}"))?;
                records.push(rec);
                record_offsets.push(start);
            }
            Ok(Some(_)) | Err(_) => {
                torn_at = Some(start);
                tail_is_zeros = zeros_after_entry(bytes, start);
                break;
            }
        }
    }
    Ok(ZkLog { records, record_offsets, torn_at, tail_is_zeros })
}

/// Whether every byte after the entry starting at `start` is zero, judging the entry's
/// extent by its length field (an entry running past the end of the file counts as torn).
fn zeros_after_entry(bytes: &[u8], start: usize) -> bool {
    let len_at = start + 8;
    let Some(len) = bytes.get(len_at..len_at + 4) else { return true };
    let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
    let end = if len < 0 { len_at + 4 } else { len_at + 4 + len as usize + 1 };
    bytes.get(end..).is_none_or(|rest| rest.iter().all(|&b| b == 0))
}

/// Decodes one log entry: TxnHeader then the txn record (a trailing TxnDigest is ignored).
pub fn parse_txn(buf: &[u8]) -> Result<TxnRecord, DecodeError> {
    let mut r = Reader::new(buf);
    let header = TxnHeader {
        session: SessionId(r.i64()?),
        cxid: r.i32()?,
        zxid: Zxid::from_i64(r.i64()?),
        time_ms: r.i64()?,
    };
    let kind = r.i32()?;
    let txn = parse_body(kind, header.session, &mut r, true)?;
    Ok(TxnRecord { header, txn })
}

/// `top` is false inside a multi: ZooKeeper's MultiTxn never nests, and refusing a nested
/// one keeps hostile files from driving the recursion deep.
fn parse_body(
    kind: i32,
    session: SessionId,
    r: &mut Reader<'_>,
    top: bool,
) -> Result<Txn, DecodeError> {
    Ok(match kind {
        op::CREATE | op::CREATE2 => {
            let (path, data, acl) = (r.string()?, r.data()?, read_acls(r)?);
            let ephemeral = r.bool()?;
            let parent_cversion = r.i32()?;
            let ephemeral_owner = if ephemeral { session.0 } else { 0 };
            Txn::Create { path, data, acl, ephemeral_owner, parent_cversion }
        }
        op::CREATE_CONTAINER => {
            let (path, data, acl, parent_cversion) =
                (r.string()?, r.data()?, read_acls(r)?, r.i32()?);
            Txn::Create { path, data, acl, ephemeral_owner: CONTAINER_OWNER, parent_cversion }
        }
        op::CREATE_TTL => {
            let (path, data, acl, parent_cversion, ttl) =
                (r.string()?, r.data()?, read_acls(r)?, r.i32()?, r.i64()?);
            Txn::Create { path, data, acl, ephemeral_owner: TTL_OWNER_MASK | ttl, parent_cversion }
        }
        op::DELETE | op::DELETE_CONTAINER => Txn::Delete { path: r.string()? },
        op::SET_DATA | op::RECONFIG => {
            Txn::SetData { path: r.string()?, data: r.data()?, version: r.i32()? }
        }
        op::SET_ACL => Txn::SetAcl { path: r.string()?, acl: read_acls(r)?, version: r.i32()? },
        op::CHECK => Txn::Check { path: r.string()?, version: r.i32()? },
        op::CREATE_SESSION => Txn::CreateSession { timeout_ms: r.i32()? },
        op::CLOSE_SESSION => Txn::CloseSession,
        op::ERROR => Txn::Error { err: r.i32()? },
        op::MULTI if top => {
            let n = r.count(8)?;
            let mut subs = r.vec_for(n);
            for _ in 0..n {
                let sub_kind = r.i32()?;
                let body = r.buffer()?;
                subs.push(parse_body(sub_kind, session, &mut Reader::new(&body), false)?);
            }
            Txn::Multi(subs)
        }
        other => return Err(DecodeError::Invalid(format!("unknown txn type {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAPSHOT: &[u8] = include_bytes!("../tests/fixtures/zk38/snapshot.12");
    const LOG: &[u8] = include_bytes!("../tests/fixtures/zk38/log.1");

    /// Files written by Debian's ZooKeeper 3.8.0 after: create /a hello; create /a/b;
    /// create -s /a/seq- x; create -e /eph e; set /a world; setAcl /a/b digest+world;
    /// create -c /cont; create /cont/x; delete /cont/x.
    #[test]
    fn reads_a_real_zookeeper_snapshot() {
        let snap = parse_snapshot(SNAPSHOT).unwrap();
        let paths: Vec<&str> = snap.nodes.iter().map(|n| n.path.as_str()).collect();
        for p in
            ["/", "/a", "/a/b", "/a/seq-0000000001", "/cont", "/zookeeper", "/zookeeper/config"]
        {
            assert!(paths.contains(&p), "{p} missing from {paths:?}");
        }
        let a = snap.nodes.iter().find(|n| n.path == "/a").unwrap();
        assert_eq!(a.data.as_deref(), Some(&b"world"[..]));
        assert_eq!(a.stat.version, 1);
        let b = snap.nodes.iter().find(|n| n.path == "/a/b").unwrap();
        assert_eq!(b.acl.len(), 2);
        assert_eq!(b.acl[0].id.scheme, "digest");
        let cont = snap.nodes.iter().find(|n| n.path == "/cont").unwrap();
        assert_eq!(cont.stat.ephemeral_owner, CONTAINER_OWNER);
        assert!(!snap.sessions.is_empty());
    }

    #[test]
    fn reads_a_real_zookeeper_log() {
        let log = parse_log(LOG).unwrap();
        assert_eq!(log.torn_at, None);
        let creates: Vec<&str> = log
            .records
            .iter()
            .filter_map(|r| match &r.txn {
                Txn::Create { path, .. } => Some(path.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(creates, ["/a", "/a/b", "/a/seq-0000000001", "/eph", "/cont", "/cont/x"]);
        assert!(log.records.windows(2).all(|w| w[0].header.zxid < w[1].header.zxid));
        let eph = log
            .records
            .iter()
            .find(|r| matches!(&r.txn, Txn::Create { path, .. } if path == "/eph"))
            .unwrap();
        assert!(
            matches!(eph.txn, Txn::Create { ephemeral_owner, .. } if ephemeral_owner == eph.header.session.0)
        );
    }

    #[test]
    fn damage_is_reported_not_panicked_on() {
        let full = parse_snapshot(SNAPSHOT).unwrap();
        assert!(full.digest_zxid.is_some(), "3.8 writes the digest section");
        for cut in 0..SNAPSHOT.len() {
            // Ending right after the first seal is a valid pre-3.6 snapshot (no digest).
            if let Ok(s) = parse_snapshot(&SNAPSHOT[..cut]) {
                assert!(s.digest_zxid.is_none() && s.nodes == full.nodes, "cut at {cut}");
            }
        }
        let mut flipped = SNAPSHOT.to_vec();
        flipped[200] ^= 0x10;
        assert!(parse_snapshot(&flipped).is_err());
        let full = parse_log(LOG).unwrap();
        for cut in 16..LOG.len() {
            let log = parse_log(&LOG[..cut]).unwrap();
            assert!(log.records.len() < full.records.len(), "cut at {cut}");
            assert_eq!(log.records[..], full.records[..log.records.len()], "never a wrong record");
            assert!(log.torn_at.is_none() || log.tail_is_zeros, "a cut is a torn tail, at {cut}");
        }
        let mut flipped = LOG.to_vec();
        flipped[100] ^= 0x01;
        let log = parse_log(&flipped).unwrap();
        assert!(log.torn_at.is_some(), "a flipped byte stops the scan at that entry");
        assert!(!log.tail_is_zeros, "entries follow the damage: corruption, not a torn tail");
        let mut bad_version = LOG.to_vec();
        bad_version[7] = 3;
        assert!(parse_log(&bad_version).unwrap_err().contains("version 3"));
    }
}
