//! Incremental, copy-on-write snapshot encoding: the exact image of the tree as of one zxid,
//! written a bounded slice at a time while the tree keeps changing.
//!
//! [`DataTree::begin_snapshot`] fixes the label (the tree's `last_zxid` and node count at
//! that moment) and writes the body's head; each [`DataTree::advance_snapshot`] then writes
//! the next nodes in path order, at most a budget of nodes or bytes, and the last one hands
//! the finished bytes back. Between slices the tree's own mutation layer (`update`,
//! `insert_raw`, `remove_raw`) calls `preserve` before it touches a path: a path after the
//! cursor (not yet written) that was not saved yet gets its state at the label saved here,
//! `None` when it did not exist (a create). The walk merges the saved paths into the live
//! ones and prefers the saved state, so saved-then-deleted nodes are still written and
//! created-since ones are skipped.
//!
//! Invariants: every path after `cursor` reads, through `saved` first and the live tree
//! second, exactly as it did at the label; `saved` holds only paths after `cursor` (entries
//! at or before it are dropped once written); each saved node holds one extra reference to
//! its ACL id in the tree's table (`pinned`), so the id cannot be released and reused for
//! another list while the copy needs it; the bytes are the one-shot encoder's
//! (`snapshot::encode`) byte for byte, since the ACL cache that skips re-encoding a repeated
//! list is reset at each slice (ids are stable only within one).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use super::acls::AclId;
use super::{DataTree, Znode};
use crate::ids::Zxid;
use crate::wire::jute::Writer;
use crate::wire::records::write_acls;

/// An in-progress snapshot, owned by the tree it images (see the module doc).
#[derive(Clone)]
pub(super) struct Pending {
    label: Zxid,
    /// Nodes at the label not yet written.
    remaining: usize,
    /// The image so far (the caller's prefix, then the tree body).
    out: Vec<u8>,
    /// crc32c of `out`, kept up slice by slice so finishing needs no pass over the image.
    crc: u32,
    /// The last path written or skipped; `None` before the first slice.
    cursor: Option<Box<str>>,
    /// State at the label of paths after `cursor` changed since (`None`: absent then).
    pub(super) saved: BTreeMap<Box<str>, Option<Znode>>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("label", &self.label)
            .field("remaining", &self.remaining)
            .field("bytes", &self.out.len())
            .field("cursor", &self.cursor)
            .field("saved", &self.saved.len())
            .finish()
    }
}

impl Pending {
    /// True while `path` has not been written (it is after the cursor).
    fn unwritten(&self, path: &str) -> bool {
        self.cursor.as_deref().is_none_or(|c| path > c)
    }
}

/// A finished incremental snapshot: the label and the whole image with its running checksum.
#[derive(Debug)]
pub struct FinishedSnapshot {
    /// The zxid the image holds the state of.
    pub label: Zxid,
    /// The caller's prefix followed by the tree body (`encode_snapshot`'s bytes).
    pub bytes: Vec<u8>,
    /// crc32c of `bytes`.
    pub crc: u32,
}

impl DataTree {
    /// Starts an incremental snapshot of the tree as it is now, appending its body to
    /// `prefix` (the caller's framing). Returns false, changing nothing, when one is already
    /// in progress. The expected image size is reserved at once, so that no slice pays for
    /// moving the image.
    pub fn begin_snapshot(&mut self, prefix: Vec<u8>) -> bool {
        if self.pending.is_some() {
            return false;
        }
        let mut out = prefix;
        // Fixed part per node: path and data lengths, a one-entry ACL list, the stat; the
        // checksum's four bytes after it.
        out.reserve(self.data_size as usize + self.nodes.len() * 96 + 64);
        let mut w = Writer::from_vec(out);
        w.i64(self.last_zxid.as_i64());
        w.i32(self.nodes.len() as i32);
        let out = w.into_vec();
        let crc = crc32c::crc32c(&out);
        self.pending = Some(Box::new(Pending {
            label: self.last_zxid,
            remaining: self.nodes.len(),
            out,
            crc,
            cursor: None,
            saved: BTreeMap::new(),
        }));
        true
    }

    /// The label of the snapshot in progress, if any.
    pub fn snapshot_in_progress(&self) -> Option<Zxid> {
        self.pending.as_ref().map(|p| p.label)
    }

    /// Drops the snapshot in progress, if any, and the references its saved copies hold.
    pub fn abandon_snapshot(&mut self) {
        if let Some(p) = self.pending.take() {
            for n in p.saved.into_values().flatten() {
                self.acls.release(n.acl);
            }
        }
    }

    /// Writes the next slice of the snapshot in progress: nodes in path order until
    /// `max_nodes` nodes (at least one) were visited or `max_bytes` bytes written. Returns the
    /// finished image when this slice wrote the last node, `None` otherwise (and when no
    /// snapshot is in progress).
    pub fn advance_snapshot(
        &mut self,
        max_nodes: usize,
        max_bytes: usize,
    ) -> Option<FinishedSnapshot> {
        let DataTree { nodes, acls, pending, .. } = self;
        let p = pending.as_deref_mut()?;
        let max_nodes = max_nodes.max(1);
        let start = p.out.len();
        let mut w = Writer::from_vec(std::mem::take(&mut p.out));
        let lower = match p.cursor.as_deref() {
            Some(c) => Bound::Excluded(c),
            None => Bound::Unbounded,
        };
        let mut live = nodes.range::<str, _>((lower, Bound::Unbounded)).peekable();
        let mut saved = p.saved.range::<str, _>((lower, Bound::Unbounded)).peekable();
        // The previous node's ACL id and encoding; ids are stable only within this slice.
        let mut last_acl: Option<(AclId, Vec<u8>)> = None;
        let mut visited = 0;
        let mut last: Option<&str> = None;
        let mut done = false;
        while visited < max_nodes && w.len() - start < max_bytes {
            let take_saved = match (live.peek(), saved.peek()) {
                (None, None) => {
                    done = true;
                    break;
                }
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((l, _)), Some((s, _))) => s <= l,
            };
            let (path, node) = if take_saved {
                let (s, n) = saved.next().expect("peeked");
                if live.peek().is_some_and(|(l, _)| l.as_ref() == s.as_ref()) {
                    live.next();
                }
                (&**s, n.as_ref())
            } else {
                let (l, n) = live.next().expect("peeked");
                (&**l, Some(n))
            };
            visited += 1;
            last = Some(path);
            let Some(n) = node else { continue };
            p.remaining = p.remaining.checked_sub(1).expect("no more nodes than at the label");
            w.string(path);
            w.data(n.data.as_ref());
            match &last_acl {
                Some((id, raw)) if *id == n.acl => w.raw(raw),
                _ => {
                    let at = w.len();
                    write_acls(&mut w, acls.get(n.acl));
                    last_acl = Some((n.acl, w.as_slice()[at..].to_vec()));
                }
            }
            n.stat.encode(&mut w);
        }
        if !done && live.peek().is_none() && saved.peek().is_none() {
            done = true;
        }
        let last: Option<Box<str>> = last.map(Box::from);
        drop((live, saved));
        p.out = w.into_vec();
        p.crc = crc32c::crc32c_append(p.crc, &p.out[start..]);
        if let Some(c) = last {
            // Saved entries at or before the new cursor are written: drop them.
            let mut rest = p.saved.split_off(&*c);
            let at_cursor = rest.remove(&*c);
            let written = std::mem::replace(&mut p.saved, rest);
            for n in written.into_values().chain(at_cursor).flatten() {
                acls.release(n.acl);
            }
            p.cursor = Some(c);
        }
        if !done {
            return None;
        }
        let p = pending.take().expect("in progress");
        assert_eq!(p.remaining, 0, "a snapshot writes every node of its label");
        debug_assert!(p.saved.is_empty());
        Some(FinishedSnapshot { label: p.label, bytes: p.out, crc: p.crc })
    }

    /// Saves `path`'s state at the label before it changes, when a snapshot in progress has
    /// not written it yet (see the module doc). Called by every mutation of a node.
    pub(super) fn preserve(&mut self, path: &str) {
        let DataTree { nodes, acls, pending, .. } = self;
        let Some(p) = pending.as_deref_mut() else { return };
        if !p.unwritten(path) || p.saved.contains_key(path) {
            return;
        }
        let before = nodes.get(path).map(|n| {
            acls.retain(n.acl);
            n.clone()
        });
        p.saved.insert(path.into(), before);
    }

    /// The ACL references saved copies hold, by id, for the table's self-check.
    pub(super) fn pinned_acls(&self) -> impl Iterator<Item = AclId> + '_ {
        self.pending.iter().flat_map(|p| p.saved.values().flatten().map(|n| n.acl))
    }
}
