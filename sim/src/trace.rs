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

/// One line being hashed (and kept, when the trace has a sink).
struct Line<'a> {
    hash: u64,
    line: Option<&'a mut String>,
}

impl Line<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        self.hash = fnv1a(self.hash, bytes);
        if let Some(l) = self.line.as_mut() {
            // Only ever handed whole UTF-8 runs and ASCII escapes.
            l.push_str(std::str::from_utf8(bytes).expect("UTF-8 runs"));
        }
    }
}

/// Writes text into a `Line` escaped as a JSON string body, byte for byte as serde_json
/// escapes: `"`, `\\`, and control characters; everything else (non-ASCII too) as is.
struct Escaped<'a, 'b>(&'a mut Line<'b>);

impl std::fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let line = &mut *self.0;
        // One pass: plain bytes go straight into the hash; runs are copied to the line
        // (when there is one) only around escapes.
        let mut hash = line.hash;
        let mut start = 0;
        for (i, &b) in s.as_bytes().iter().enumerate() {
            if b >= 0x20 && b != b'"' && b != b'\\' {
                hash = (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                continue;
            }
            let mut uni = *b"\\u0000";
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                _ => {
                    uni[4] = HEX[(b >> 4) as usize];
                    uni[5] = HEX[(b & 15) as usize];
                    &uni
                }
            };
            if let Some(l) = line.line.as_mut() {
                l.push_str(&s[start..i]);
            }
            line.hash = hash;
            line.raw(esc);
            hash = line.hash;
            start = i + 1;
        }
        if let Some(l) = line.line.as_mut() {
            l.push_str(&s[start..]);
        }
        line.hash = hash;
        Ok(())
    }
}

/// `n` in decimal, in `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
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
        self.event_args(t_ms, kind, format_args!("{detail}"));
    }

    /// As `event`, with the detail formatted straight into the hash (no `String` for it,
    /// nor for the line unless a sink is attached). The bytes hashed are exactly the line
    /// serde_json writes for `{"d": detail, "k": kind, "t": t_ms}` plus a newline.
    pub fn event_args(&mut self, t_ms: u64, kind: &str, detail: std::fmt::Arguments<'_>) {
        let mut line = self.sink.as_ref().map(|_| String::with_capacity(128));
        let mut out = Line { hash: self.hash, line: line.as_mut() };
        out.raw(b"{\"d\":\"");
        // Writing to `Escaped` cannot fail; a Display impl that fails would be a bug there.
        let _ = std::fmt::write(&mut Escaped(&mut out), detail);
        out.raw(b"\",\"k\":\"");
        let _ = std::fmt::Write::write_str(&mut Escaped(&mut out), kind);
        out.raw(b"\",\"t\":");
        let mut digits = [0u8; 20];
        out.raw(decimal(t_ms, &mut digits));
        out.raw(b"}");
        self.hash = fnv1a(out.hash, b"\n");
        self.lines += 1;
        if let (Some(w), Some(line)) = (self.sink.as_mut(), line) {
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

    /// The hand-written line is what serde_json writes for the same object, so trace
    /// hashes did not change when the map-building version was replaced.
    #[test]
    fn lines_are_the_json_objects_serde_writes() {
        let all_controls: String = (0u8..0x20).map(char::from).collect();
        for (t, k, d) in [
            (0, "run", "seed=1"),
            (17, "in", "a \"quoted\" \\ line\n\u{7}é"),
            (u64::MAX, "k\"\t", all_controls.as_str()),
            (1_000_000, "", "\u{7f} \u{2028} 日本"),
        ] {
            let mut tr = Trace::new(None);
            tr.event(t, k, d);
            let want = serde_json::json!({ "t": t, "k": k, "d": d }).to_string();
            assert_eq!(tr.hash(), fnv1a(fnv1a(FNV_OFFSET, want.as_bytes()), b"\n"));
            // And the line written to a sink is that text.
            let buf = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let mut tr = Trace::new(Some(Box::new(Shared(buf.clone()))));
            tr.event(t, k, d);
            assert_eq!(String::from_utf8(buf.borrow().clone()).unwrap(), format!("{want}\n"));
        }
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

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }
}
