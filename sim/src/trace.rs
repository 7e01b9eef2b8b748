//! The run's trace: one event per step, hashed as a compact binary record and, only when a
//! trace file is asked for, also written as one JSON line.
//!
//! The hash covers, per event, its virtual time, its kind and either its detail text (for
//! rare events) or a fixed list of words that identify it (for the hot ones: messages
//! between servers, persists, client inputs and outputs, each by kind, ids, zxid, epoch and
//! transaction kind). Words are mixed eight bytes at a time, so no text is formatted and
//! nothing is allocated for an event when there is no trace file; the JSON line written to a
//! file says the same thing in words a person can read.
//!
//! Invariant: the hash depends only on the sequence of events (never on whether a trace
//! file is attached, nor on wall time or addresses), and every byte is read in little-endian
//! order, so the same seed and scenario give the same hash on every machine.

use std::fmt::Write as _;
use std::io::Write;

/// The hash's starting value (FNV-1a 64's offset basis, kept from the text-hash days).
pub const HASH_START: u64 = 0xcbf2_9ce4_8422_2325;
/// Odd multiplier of the word mix (the golden ratio, as in Fibonacci hashing).
const MUL: u64 = 0x9e37_79b9_7f4a_7c15;
/// Odd multiplier of the second word in `mix2` (splitmix64's first).
const MUL2: u64 = 0xbf58_476d_1ce4_e5b9;

/// Mixes one 64-bit word into `hash`: multiply-rotate, each word touching every output bit
/// within two steps. Not cryptographic; it tells runs apart, which is all the trace asks.
#[inline]
pub fn mix(hash: u64, word: u64) -> u64 {
    (hash ^ word).wrapping_mul(MUL).rotate_left(27) ^ (hash >> 29)
}

/// Mixes two words into `hash` in one step: the second word's multiply does not wait for
/// the first's, so a hot event's words cost half the dependent multiplies of `mix` each.
#[inline]
pub fn mix2(hash: u64, a: u64, b: u64) -> u64 {
    ((hash ^ a).wrapping_mul(MUL) ^ b.wrapping_mul(MUL2)).rotate_left(27) ^ (hash >> 29)
}

/// Mixes `bytes` into `hash` eight at a time (little-endian), then their length, so that
/// "ab" + "c" and "a" + "bc" differ.
pub fn mix_bytes(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        hash = mix(hash, u64::from_le_bytes(c.try_into().expect("eight bytes")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // The same little-endian word as zero-padding `rest` to eight bytes, without the
        // call to memcpy a variable-length copy costs (every event's kind comes here).
        let w = rest.iter().rev().fold(0u64, |w, b| (w << 8) | u64::from(*b));
        hash = mix(hash, w);
    }
    mix(hash, bytes.len() as u64)
}

/// Appends `s` to `out` escaped as a JSON string body, byte for byte as serde_json escapes:
/// `"`, `\\`, and control characters; everything else (non-ASCII too) as is.
fn escape_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                out.push_str("\\u00");
                out.push(char::from(HEX[(b >> 4) as usize]));
                out.push(char::from(HEX[(b & 15) as usize]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Accumulates the trace hash and optionally writes lines to a sink.
pub struct Trace {
    hash: u64,
    lines: u64,
    sink: Option<Box<dyn Write>>,
    /// Reused for formatted details (hashed events) and for the line written to the sink.
    scratch: String,
    line: String,
}

/// A trace sink kept in memory, for a caller (a test, a report) that reads the text back
/// after the run. Clones share one buffer, so the clone handed to [`Trace::new`] (see
/// [`MemorySink::trace`]) writes what [`MemorySink::text`] returns. Invariant: it holds
/// exactly the bytes written, in order.
#[derive(Clone, Debug, Default)]
pub struct MemorySink(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl MemorySink {
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// A trace that writes its text into this sink.
    pub fn trace(&self) -> Trace {
        Trace::new(Some(Box::new(self.clone())))
    }

    /// The text written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }
}

impl Write for MemorySink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Trace {
    pub fn new(sink: Option<Box<dyn Write>>) -> Trace {
        Trace { hash: HASH_START, lines: 0, sink, scratch: String::new(), line: String::new() }
    }

    /// True when events are also written out as text (callers never need to ask: the hash
    /// is the same either way; it is for tests and reports).
    pub fn has_sink(&self) -> bool {
        self.sink.is_some()
    }

    /// Records one event: `kind` plus a free-text `detail`, at virtual time `t_ms`; the
    /// detail text is hashed.
    pub fn event(&mut self, t_ms: u64, kind: &str, detail: &str) {
        let h = mix_bytes(mix_bytes(mix(self.hash, t_ms), kind.as_bytes()), detail.as_bytes());
        self.hash = mix(h, 0);
        self.lines += 1;
        if self.sink.is_some() {
            self.write_line(t_ms, kind, detail);
        }
    }

    /// As `event`, with the detail formatted into a reused buffer (no allocation).
    pub fn event_args(&mut self, t_ms: u64, kind: &str, detail: std::fmt::Arguments<'_>) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        // Writing to a String cannot fail; a Display impl that fails would be a bug there.
        let _ = scratch.write_fmt(detail);
        self.event(t_ms, kind, &scratch);
        self.scratch = scratch;
    }

    /// Records one hot event by `words` that identify it; `text` (formatted only when a
    /// trace file is attached) is the line's detail for a reader. The hash sees the words,
    /// never the text.
    pub fn record(&mut self, t_ms: u64, kind: &str, words: &[u64], text: std::fmt::Arguments<'_>) {
        let mut h = mix_bytes(mix(self.hash, t_ms), kind.as_bytes());
        let mut pairs = words.chunks_exact(2);
        for p in &mut pairs {
            h = mix2(h, p[0], p[1]);
        }
        if let [w] = pairs.remainder() {
            h = mix(h, *w);
        }
        self.hash = mix(h, 1 + words.len() as u64);
        self.lines += 1;
        if self.sink.is_some() {
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            let _ = scratch.write_fmt(text);
            self.write_line(t_ms, kind, &scratch);
            self.scratch = scratch;
        }
    }

    /// Writes `{"d": detail, "k": kind, "t": t_ms}` as serde_json would, plus a newline.
    fn write_line(&mut self, t_ms: u64, kind: &str, detail: &str) {
        let Some(w) = self.sink.as_mut() else { return };
        let line = &mut self.line;
        line.clear();
        line.push_str("{\"d\":\"");
        escape_into(line, detail);
        line.push_str("\",\"k\":\"");
        escape_into(line, kind);
        let _ = write!(line, "\",\"t\":{t_ms}}}");
        // A failing trace file must not change the run; the hash is still complete.
        let _ = writeln!(w, "{line}");
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

    /// The line written to a sink is the JSON object serde_json writes for the same event,
    /// and attaching a sink does not change the hash.
    #[test]
    fn lines_are_the_json_objects_serde_writes() {
        let all_controls: String = (0u8..0x20).map(char::from).collect();
        for (t, k, d) in [
            (0, "run", "seed=1"),
            (17, "in", "a \"quoted\" \\ line\n\u{7}é"),
            (u64::MAX, "k\"\t", all_controls.as_str()),
            (1_000_000, "", "\u{7f} \u{2028} 日本"),
        ] {
            let want = serde_json::json!({ "t": t, "k": k, "d": d }).to_string();
            let buf = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let mut with = Trace::new(Some(Box::new(Shared(buf.clone()))));
            with.event(t, k, d);
            with.record(t, k, &[1, 2, 3], format_args!("{d}"));
            let mut without = Trace::new(None);
            without.event(t, k, d);
            without.record(t, k, &[1, 2, 3], format_args!("never formatted {}", panics()));
            assert_eq!(with.hash(), without.hash());
            assert_eq!(with.lines(), 2);
            let text = String::from_utf8(buf.borrow().clone()).unwrap();
            assert_eq!(text, format!("{want}\n{want}\n"));
        }
    }

    /// A value whose formatting fails the test: `record` must not format without a sink.
    fn panics() -> impl std::fmt::Display {
        struct P;
        impl std::fmt::Display for P {
            fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                panic!("formatted without a trace file")
            }
        }
        P
    }

    /// A sink the test can read back.
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Pinned values: the hash is the same on every machine (little-endian words), and
    /// boundaries, order and every field matter.
    #[test]
    fn hash_values_are_pinned_and_tell_events_apart() {
        assert_eq!(mix_bytes(HASH_START, b""), mix(HASH_START, 0));
        assert_ne!(mix_bytes(HASH_START, b"ab"), mix_bytes(HASH_START, b"ab\0"));
        let one = |t, k: &str, d: &str| {
            let mut tr = Trace::new(None);
            tr.event(t, k, d);
            tr.hash()
        };
        assert_ne!(one(1, "in", "x"), one(2, "in", "x"));
        assert_ne!(one(1, "in", "x"), one(1, "out", "x"));
        assert_ne!(one(1, "in", "xy"), one(1, "inx", "y"));
        let rec = |words: &[u64]| {
            let mut tr = Trace::new(None);
            tr.record(5, "in", words, format_args!(""));
            tr.hash()
        };
        assert_ne!(rec(&[1, 2]), rec(&[2, 1]));
        assert_ne!(rec(&[1, 2]), rec(&[1, 2, 0]));
        assert_ne!(rec(&[1, 2, 3, 4]), rec(&[1, 2, 4, 3]), "words within a pair");
        assert_ne!(rec(&[0, 1]), rec(&[1, 0]));
        assert_ne!(rec(&[1, 2, 3, 4]), rec(&[3, 4, 1, 2]), "pairs in order");
        assert_eq!(one(0, "run", "seed=1"), PINNED_RUN_SEED_1);
        assert_eq!(rec(&[1, 2, 3]), PINNED_RECORD_1_2_3);
    }
    const PINNED_RUN_SEED_1: u64 = 0x4bc2_5c9a_da6b_7f2f;
    const PINNED_RECORD_1_2_3: u64 = 0x9d76_654e_cf68_91db;
}
