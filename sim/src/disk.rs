//! A node's simulated disk: `Persist` writes are buffered, an fsync makes them durable after a
//! latency drawn from the disk's own stream, and a crash loses what was not synced.
//!
//! Invariants: writes become durable in `PersistSeq` order, and at most one fsync is in
//! flight; `Persisted { up_to }` is only reported for writes that are in `synced`.
//!
//! Writes are stored structurally (`DurableWrite`). Once a `corrupt` fault has damaged a
//! record, recovery goes through bytes: the log is laid out as the real storage writes it
//! (core::persist's framed records, one file per run of appends between snapshots) with the
//! damage applied, and read back with `scan_log`, the scanner the real recovery uses, so a
//! damaged record is caught by its checksum or it is not caught at all.
//!
//! Disk full: while `full` is set, a write that reaches the disk fails: the engine cuts the
//! unsynced writes off and rebuilds the node when an fsync completes on a full disk.

use keeper_core::ids::Zxid;
use keeper_core::output::DurableWrite;
use keeper_core::persist::{encode_log_header, encode_log_record, scan_log, End, Recovered};
use keeper_core::txn::TxnRecord;
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
    /// Writes made durable by earlier runs of the node. Persist seqs restart at 1 in each
    /// run (a process's numbering, as in the real storage), so they are kept without one.
    durable: Vec<DurableWrite>,
    pending: Vec<(PersistSeq, DurableWrite)>,
    in_flight: bool,
    /// Damaged bytes: (index among every durable log record, byte of its payload, xor mask).
    damage: Vec<(usize, usize, u8)>,
    /// While set, writes fail (the disk is full).
    pub full: bool,
    /// Why recovery last refused this disk's contents (the node then stays down).
    pub refused: Option<String>,
}

impl Disk {
    pub fn new(rng: ChaCha8Rng, fsync_ms: [u64; 2], torn_tail: bool) -> Disk {
        Disk {
            rng,
            fsync_ms,
            torn_tail,
            extra_ms: 0,
            synced: Vec::new(),
            durable: Vec::new(),
            pending: Vec::new(),
            in_flight: false,
            damage: Vec::new(),
            full: false,
            refused: None,
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
        self.durable.extend(self.synced.drain(..).map(|(_, w)| w));
        pending.len()
    }

    /// A write failed (disk full): every unsynced write is lost, none torn into the log.
    pub fn drop_unsynced(&mut self) -> usize {
        let torn = std::mem::replace(&mut self.torn_tail, false);
        let lost = self.crash();
        self.torn_tail = torn;
        lost
    }

    /// Writes not yet synced.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// What a restart recovers: the newest snapshot that decodes, every logged record
    /// after it, and the epochs, as the real storage hands them over. Truncations drop
    /// the records and snapshots above their point, in write order.
    pub fn recover(&self) -> Recovered {
        let mut snaps: Vec<&DurableWrite> = Vec::new();
        let mut log: Vec<&keeper_core::txn::TxnRecord> = Vec::new();
        let mut epochs = keeper_core::persist::Epochs::default();
        for w in self.durable.iter().chain(self.synced.iter().map(|(_, w)| w)) {
            match w {
                DurableWrite::Append(r) => log.push(r),
                DurableWrite::Snapshot { .. } => snaps.push(w),
                DurableWrite::Truncate { to } => {
                    log.retain(|r| r.header.zxid <= *to);
                    snaps
                        .retain(|s| matches!(s, DurableWrite::Snapshot { zxid, .. } if zxid <= to));
                }
                DurableWrite::AcceptedEpoch(e) => epochs.accepted = Some(*e),
                DurableWrite::CurrentEpoch(e) => epochs.current = Some(*e),
            }
        }
        let snapshot = snaps.iter().rev().find_map(|w| match w {
            DurableWrite::Snapshot { image, .. } => {
                keeper_core::persist::decode_snapshot(image).ok()
            }
            _ => None,
        });
        let after = snapshot.as_ref().map_or(Zxid::ZERO, |s| s.zxid);
        let log = log.into_iter().filter(|r| r.header.zxid > after).cloned().collect();
        Recovered { snapshot, log, epochs }
    }

    /// Recovery as the real storage does it: `Err` (refuse to start, naming the damage) when
    /// a log record fails its checksum anywhere but in a torn tail. Without damage this is
    /// `recover`; with damage the log is rebuilt as bytes and scanned.
    pub fn try_recover(&self) -> Result<Recovered, String> {
        let mut recovered = self.recover();
        if self.damage.is_empty() {
            return Ok(recovered);
        }
        let after = recovered.snapshot.as_ref().map_or(Zxid::ZERO, |s| s.zxid);
        let files = self.log_files();
        let mut log = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let scan = scan_log(file);
            match (&scan.end, i + 1 == files.len()) {
                (End::Clean, _) | (End::TornTail { .. }, true) => {}
                (End::TornTail { offset }, false) => {
                    return Err(format!(
                        "log file {} torn at offset {offset} with later files after it",
                        i + 1
                    ))
                }
                (End::Corrupt { offset, why }, _) => {
                    return Err(format!("log file {} corrupt at offset {offset}: {why}", i + 1))
                }
            }
            log.extend(scan.records.into_iter().filter(|r| r.header.zxid > after));
        }
        recovered.log = log;
        Ok(recovered)
    }

    /// Damages one durable log record, `back` records from the newest (1 = newest), or one
    /// drawn from the disk's stream; returns its zxid, or `None` if there is no such record.
    /// The flipped byte lies inside the record's payload, so its checksum no longer matches.
    pub fn corrupt(&mut self, back: Option<u64>) -> Option<Zxid> {
        let live: Vec<(usize, Zxid)> =
            self.live_files().into_iter().flatten().map(|(i, r)| (i, r.header.zxid)).collect();
        let n = live.len() as u64;
        let pick = match back {
            Some(b) if b >= 1 && b <= n => n - b,
            Some(_) => return None,
            None if n == 0 => return None,
            None => self.rng.next_u64() % n,
        } as usize;
        let byte = self.rng.next_u64() as usize;
        let mask = (self.rng.next_u64() % 255 + 1) as u8;
        let (index, zxid) = live[pick];
        self.damage.push((index, byte, mask));
        Some(zxid)
    }

    /// Recovered records that differ from what was written with their zxid: a damaged
    /// record that got past the checksum. Always empty unless the scanner is wrong.
    pub fn unfaithful(&self, recovered: &Recovered) -> Vec<Zxid> {
        if self.damage.is_empty() {
            return Vec::new(); // the structural path hands over exactly what was written.
        }
        let files = self.live_files();
        let written: Vec<&TxnRecord> = files.iter().flatten().map(|(_, r)| *r).collect();
        recovered.log.iter().filter(|r| !written.contains(r)).map(|r| r.header.zxid).collect()
    }

    /// Every durable log record, oldest first (the simulated disk never purges), for
    /// checking a recovery against a replay from nothing; `None` when the node's state
    /// came from another server's snapshot, which no replay of its own log can rebuild: a
    /// truncation happened, or a snapshot is labelled with a zxid the node never logged
    /// itself (a SNAP whose truncation was not yet durable when the node crashed; a
    /// snapshot at a zxid the node did log holds what its log up to there holds).
    pub fn all_appends(&self) -> Option<Vec<keeper_core::txn::TxnRecord>> {
        let mut out: Vec<keeper_core::txn::TxnRecord> = Vec::new();
        for w in self.durable.iter().chain(self.synced.iter().map(|(_, w)| w)) {
            match w {
                DurableWrite::Append(r) => out.push(r.clone()),
                DurableWrite::Truncate { .. } => return None,
                DurableWrite::Snapshot { zxid, .. }
                    if *zxid != Zxid::ZERO && !out.iter().any(|r| r.header.zxid == *zxid) =>
                {
                    return None
                }
                _ => {}
            }
        }
        Some(out)
    }

    /// The durable log records still on disk, grouped as the real storage lays them out: a
    /// new file at the first append after each snapshot; a truncation cuts the records
    /// above its point. Each record comes with its index among every append ever written
    /// (what `damage` refers to).
    fn live_files(&self) -> Vec<Vec<(usize, &TxnRecord)>> {
        let mut files: Vec<Vec<(usize, &TxnRecord)>> = Vec::new();
        let mut roll = true;
        let mut index = 0;
        for w in self.durable.iter().chain(self.synced.iter().map(|(_, w)| w)) {
            match w {
                DurableWrite::Append(r) => {
                    if roll || files.is_empty() {
                        files.push(Vec::new());
                        roll = false;
                    }
                    files.last_mut().expect("a file was opened above").push((index, r));
                    index += 1;
                }
                DurableWrite::Snapshot { .. } => roll = true,
                DurableWrite::Truncate { to } => {
                    for f in &mut files {
                        f.retain(|(_, r)| r.header.zxid <= *to);
                    }
                    files.retain(|f| !f.is_empty());
                }
                DurableWrite::AcceptedEpoch(_) | DurableWrite::CurrentEpoch(_) => {}
            }
        }
        files
    }

    /// The live log files as bytes (a header, then framed records), damage applied.
    fn log_files(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for file in self.live_files() {
            let mut bytes = encode_log_header(file[0].1.header.zxid).to_vec();
            for (index, r) in file {
                let mut rec = encode_log_record(r);
                for (_, byte, mask) in self.damage.iter().filter(|(i, _, _)| *i == index) {
                    // Skip the 8-byte length and checksum prefix: damage the payload.
                    let at = 8 + byte % (rec.len() - 8);
                    rec[at] ^= mask;
                }
                bytes.extend_from_slice(&rec);
            }
            out.push(bytes);
        }
        out
    }

    fn latency(&mut self) -> u64 {
        let [lo, hi] = self.fsync_ms;
        crate::engine::between(&mut self.rng, lo, hi) + self.extra_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keeper_core::ids::{SessionId, Zxid};
    use keeper_core::txn::{Txn, TxnHeader, TxnRecord};
    use rand_chacha::rand_core::SeedableRng;

    fn append(counter: u32) -> DurableWrite {
        let header =
            TxnHeader { session: SessionId(1), cxid: 1, zxid: Zxid::new(1, counter), time_ms: 0 };
        DurableWrite::Append(TxnRecord { header, txn: Txn::Delete { path: "/a".into() } })
    }
    fn disk(torn: bool) -> Disk {
        Disk::new(ChaCha8Rng::seed_from_u64(7), [2, 2], torn)
    }
    fn zxids(d: &Disk) -> Vec<u32> {
        d.recover().log.iter().map(|r| r.header.zxid.counter()).collect()
    }

    #[test]
    fn writes_behind_an_fsync_in_flight_are_group_committed() {
        let mut d = disk(false);
        assert_eq!(d.write(PersistSeq(1), append(1)), Some(2));
        assert_eq!(d.write(PersistSeq(2), append(2)), None);
        assert_eq!(d.write(PersistSeq(3), append(3)), None);
        // The first fsync covers only seq 1; the next covers everything buffered since.
        assert_eq!(d.fsync_done(PersistSeq(1)), Some((2, PersistSeq(3))));
        assert_eq!(zxids(&d), vec![1]);
        assert_eq!(d.fsync_done(PersistSeq(3)), None);
        assert_eq!(zxids(&d), vec![1, 2, 3]);
    }

    #[test]
    fn crash_loses_unsynced_writes_only() {
        let mut d = disk(false);
        d.write(PersistSeq(1), append(1));
        d.fsync_done(PersistSeq(1));
        d.write(PersistSeq(2), append(2));
        d.write(PersistSeq(3), append(3));
        assert_eq!(d.crash(), 2);
        assert_eq!(zxids(&d), vec![1]);
        // After the crash a new fsync starts afresh.
        assert_eq!(d.write(PersistSeq(4), append(4)), Some(2));
    }

    #[test]
    fn torn_tail_keeps_a_strict_prefix_of_unsynced_writes() {
        for seed in 0..20 {
            let mut d = Disk::new(ChaCha8Rng::seed_from_u64(seed), [1, 1], true);
            for i in 1..=4 {
                d.write(PersistSeq(i), append(i as u32));
            }
            let lost = d.crash();
            assert!((1..=4).contains(&lost), "the torn last record is always lost");
            let kept = zxids(&d);
            assert_eq!(kept, (1..=(4 - lost as u32)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn slow_fsync_adds_latency() {
        let mut d = disk(false);
        d.extra_ms = 100;
        assert_eq!(d.write(PersistSeq(1), append(1)), Some(102));
    }
}
