//! A node's simulated disk: `Persist` writes are buffered, an fsync makes them durable after a
//! latency drawn from the disk's own stream, and a crash loses what was not synced.
//!
//! Invariants: writes become durable in `PersistSeq` order, and at most one fsync is in
//! flight; `Persisted { up_to }` is only reported for writes that are in `synced`.
//!
//! Writes are stored structurally (`DurableWrite`), not as bytes: the byte-level log format
//! is being written in core::persist. TODO: switch to bytes so that corruption and torn
//! records can be modelled inside a record and must be caught by the checksum.

use keeper_core::output::DurableWrite;
use keeper_core::persist::Recovered;
use keeper_core::PersistSeq;
use rand_chacha::rand_core::Rng;
use rand_chacha::ChaCha8Rng;

/// One node's disk.
pub struct Disk {
    rng: ChaCha8Rng,
    fsync_ms: [u64; 2],
    /// On crash, keep a random prefix of unsynced writes (the OS flushed some of them); the
    /// record after that prefix is torn, which at record granularity means dropped.
    torn_tail: bool,
    /// Extra latency added to each fsync while a slow-fsync fault lasts.
    pub extra_ms: u64,
    synced: Vec<(PersistSeq, DurableWrite)>,
    pending: Vec<(PersistSeq, DurableWrite)>,
    in_flight: bool,
}

impl Disk {
    pub fn new(rng: ChaCha8Rng, fsync_ms: [u64; 2], torn_tail: bool) -> Disk {
        Disk {
            rng,
            fsync_ms,
            torn_tail,
            extra_ms: 0,
            synced: Vec::new(),
            pending: Vec::new(),
            in_flight: false,
        }
    }

    /// Buffers one write; returns the latency of a new fsync if none was in flight (the
    /// fsync then covers everything up to `seq`).
    pub fn write(&mut self, seq: PersistSeq, write: DurableWrite) -> Option<u64> {
        let last = self.pending.last().or(self.synced.last()).map(|(s, _)| *s);
        assert!(last.is_none_or(|l| l < seq), "persist seq {seq} out of order after {last:?}");
        self.pending.push((seq, write));
        if self.in_flight {
            return None;
        }
        self.in_flight = true;
        Some(self.latency())
    }

    /// An fsync covering `up_to` finished; returns the next fsync (latency, covers) if more
    /// writes arrived meanwhile (group commit).
    pub fn fsync_done(&mut self, up_to: PersistSeq) -> Option<(u64, PersistSeq)> {
        assert!(self.in_flight, "fsync completion without an fsync in flight");
        let n = self.pending.iter().take_while(|(s, _)| *s <= up_to).count();
        self.synced.extend(self.pending.drain(..n));
        self.in_flight = false;
        let next = self.pending.last()?.0;
        self.in_flight = true;
        Some((self.latency(), next))
    }

    /// Crash: unsynced writes are lost (or, with a torn tail, all but a random prefix).
    /// Returns how many writes were lost.
    pub fn crash(&mut self) -> usize {
        let mut pending = std::mem::take(&mut self.pending);
        if self.torn_tail && !pending.is_empty() {
            let keep = (self.rng.next_u64() % pending.len() as u64) as usize;
            self.synced.extend(pending.drain(..keep));
        }
        self.in_flight = false;
        pending.len()
    }

    /// What a restart recovers from the synced writes.
    ///
    /// TODO(persist): hand over the newest snapshot once core::persist can decode an image;
    /// until then the whole synced log is replayed, which recovers the same state.
    pub fn recover(&self) -> Recovered {
        let log = self
            .synced
            .iter()
            .filter_map(|(_, w)| match w {
                DurableWrite::Append(r) => Some(r.clone()),
                DurableWrite::Snapshot { .. } => None,
            })
            .collect();
        Recovered { snapshot: None, log }
    }

    fn latency(&mut self) -> u64 {
        let [lo, hi] = self.fsync_ms;
        crate::engine::between(&mut self.rng, lo, hi) + self.extra_ms
    }
}
