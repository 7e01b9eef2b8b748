//! Durable formats: the transaction log and snapshot files as bytes.
//!
//! Pure encoding and decoding only; the shells own the files and fsyncs. Three layers:
//! - [`txn_codec`]: one [`TxnRecord`] to and from bytes (ZooKeeper's `TxnHeader` + `*Txn`
//!   records, our own framing of multi).
//! - [`log`]: the log file format (`KPLG`) and [`log::scan_log`], which decides what part of
//!   a log file is trustworthy after a crash (torn tail vs corruption; the rule is written in
//!   that module's doc).
//! - [`snapshot`]: the snapshot file format (`KPSN`), framed and checksummed around the
//!   tree bytes that [`DataTree::encode_snapshot`] writes.
//! - [`backup`]: a snapshot image carried as a four-letter-word answer (`kbak`), for
//!   consistent backups of a running server.
//!
//! Invariant kept by every decoder here: bad bytes never panic and never allocate more than
//! the input holds; they become a [`PersistError`] that names the offset.

pub mod backup;
pub mod log;
pub mod snapshot;
pub mod txn_codec;

use std::fmt;

use crate::ids::{SessionId, Zxid};
use crate::tree::DataTree;
use crate::txn::TxnRecord;
use crate::wire::jute::{Reader, Writer};

pub use log::{encode_log_header, encode_log_record, scan_log, End, LogScan, LOG_HEADER_LEN};
pub use snapshot::{
    decode_snapshot_image, encode_snapshot_image, seal_snapshot_image, snapshot_image_prefix,
    SnapshotImage,
};
pub use txn_codec::{decode_txn_record, encode_txn_record};

/// A decoded snapshot: the state as of `zxid`.
#[derive(Debug)]
pub struct SnapshotState {
    pub zxid: Zxid,
    /// Open sessions and their negotiated timeouts, sorted by id.
    pub sessions: Vec<(SessionId, i32)>,
    pub tree: DataTree,
}

/// What a node is handed on start: its newest valid snapshot and the log after it.
#[derive(Debug, Default)]
pub struct Recovered {
    pub snapshot: Option<SnapshotState>,
    /// Records with zxid above the snapshot's, in zxid order.
    pub log: Vec<TxnRecord>,
    /// The acceptedEpoch and currentEpoch last recorded, if ever (a replicated server).
    pub epochs: Epochs,
}

/// A replicated server's Zab epochs as last made durable; `None` where never written
/// (ZooKeeper then derives them from the last logged zxid).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Epochs {
    pub accepted: Option<u32>,
    pub current: Option<u32>,
}

/// Why durable bytes could not be decoded. Every variant names where the problem is, so an
/// operator reading the message can find the damaged byte with a hex dump.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PersistError {
    /// The file does not start with the expected magic (not one of our files).
    BadMagic { expected: [u8; 4], found: Vec<u8> },
    /// A format version this build does not read.
    UnsupportedVersion { version: u32 },
    /// A checksum did not match at `offset`.
    BadChecksum { offset: u64 },
    /// The bytes end before the structure does.
    Truncated { offset: u64 },
    /// A structure is malformed at `offset`; `why` says how.
    Invalid { offset: u64, why: String },
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersistError::BadMagic { expected, found } => write!(
                f,
                "bad magic: expected {:?}, found {:?}",
                String::from_utf8_lossy(expected),
                String::from_utf8_lossy(found)
            ),
            PersistError::UnsupportedVersion { version } => {
                write!(f, "unsupported format version {version}")
            }
            PersistError::BadChecksum { offset } => {
                write!(f, "checksum mismatch at offset {offset}")
            }
            PersistError::Truncated { offset } => write!(f, "data ends early at offset {offset}"),
            PersistError::Invalid { offset, why } => {
                write!(f, "invalid data at offset {offset}: {why}")
            }
        }
    }
}

impl std::error::Error for PersistError {}

/// Encodes a snapshot file image (header, sessions, tree, checksum).
pub fn encode_snapshot(zxid: Zxid, sessions: &[(SessionId, i32)], tree: &DataTree) -> Vec<u8> {
    let mut w = Writer::new();
    tree.encode_snapshot(&mut w);
    encode_snapshot_image(zxid, sessions, w.as_slice())
}

/// Starts writing the snapshot file image of `tree` as it is now (labelled with its
/// `last_zxid`) in slices, with `sessions` as they are now; false when one is already under
/// way. The tree keeps what is needed to finish it whatever is applied meanwhile
/// (`DataTree::begin_snapshot`).
pub fn begin_snapshot(tree: &mut DataTree, sessions: &[(SessionId, i32)]) -> bool {
    tree.begin_snapshot(snapshot_image_prefix(tree.last_zxid(), sessions))
}

/// Writes the next slice of the snapshot `begin_snapshot` started (at most `max_nodes`
/// nodes or about `max_bytes` bytes); returns its label and the finished image, identical
/// to what `encode_snapshot` would have made at the label, once the last slice is written.
pub fn advance_snapshot(
    tree: &mut DataTree,
    max_nodes: usize,
    max_bytes: usize,
) -> Option<(Zxid, Vec<u8>)> {
    let done = tree.advance_snapshot(max_nodes, max_bytes)?;
    Some((done.label, seal_snapshot_image(done.bytes, done.crc)))
}

/// Decodes a snapshot file image, tree included. The tree decoder must consume exactly the
/// tree bytes: anything left over means the image and the decoder disagree.
pub fn decode_snapshot(bytes: &[u8]) -> Result<SnapshotState, PersistError> {
    let image = decode_snapshot_image(bytes)?;
    let mut r = Reader::new(image.tree_bytes);
    let tree = DataTree::decode_snapshot(&mut r).map_err(|e| PersistError::Invalid {
        offset: (image.tree_offset + r.position()) as u64,
        why: format!("tree: {e}"),
    })?;
    if !r.is_empty() {
        return Err(PersistError::Invalid {
            offset: (image.tree_offset + r.position()) as u64,
            why: format!("{} bytes left after the tree", r.remaining()),
        });
    }
    Ok(SnapshotState { zxid: image.zxid, sessions: image.sessions, tree })
}
