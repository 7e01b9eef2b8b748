//! The run's trace: one JSON line per event, hashed with FNV-1a 64 as it is written.
//!
//! Invariant: the hash covers exactly the lines in order, so the same seed and scenario give
//! the same hash on every machine; nothing derived from wall time or addresses enters it.

use std::io::Write;

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `bytes`, continuing from `hash`.
pub fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// Accumulates the trace hash and optionally writes lines to a sink.
pub struct Trace {
    hash: u64,
    lines: u64,
    sink: Option<Box<dyn Write>>,
}

impl Trace {
    pub fn new(sink: Option<Box<dyn Write>>) -> Trace {
        Trace { hash: FNV_OFFSET, lines: 0, sink }
    }
    /// Records one event: `kind` plus a free-text `detail`, at virtual time `t_ms`.
    pub fn event(&mut self, t_ms: u64, kind: &str, detail: &str) {
        let line = serde_json::json!({ "t": t_ms, "k": kind, "d": detail }).to_string();
        self.hash = fnv1a(self.hash, line.as_bytes());
        self.hash = fnv1a(self.hash, b"\n");
        self.lines += 1;
        if let Some(w) = self.sink.as_mut() {
            // A failing trace file must not change the run; the hash is still complete.
            let _ = writeln!(w, "{line}");
        }
    }
    pub fn hash(&self) -> u64 {
        self.hash
    }
    pub fn lines(&self) -> u64 {
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }
}
