//! Jute's binary encoding primitives (`BinaryInputArchive` / `BinaryOutputArchive`).
//!
//! Big-endian fixed-width integers, length-prefixed buffers and strings with -1 for null,
//! count-prefixed vectors. The reader never panics and never allocates more than the bytes
//! actually present: a length field larger than what remains is `Incomplete` when the
//! caller may still receive more, and the caller decides (a whole frame is always present,
//! so inside a frame it means the record is malformed).

use bytes::Bytes;
use std::fmt;

/// Why bytes could not be decoded.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DecodeError {
    /// The input ended before the record did.
    Incomplete,
    /// The bytes are not a valid record; the text says what was wrong.
    Invalid(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Incomplete => write!(f, "input ended before the record did"),
            DecodeError::Invalid(why) => write!(f, "invalid record: {why}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Shorthand for decoder results.
pub type DecodeResult<T> = Result<T, DecodeError>;

/// Reads Jute values from a byte slice, advancing a cursor.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }
    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// True when every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    /// The bytes not yet consumed, without consuming them (for a body after a header).
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    #[inline]
    fn take(&mut self, n: usize) -> DecodeResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(DecodeError::Incomplete);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Skips `n` bytes whose value the caller already knows (e.g. a repeat of bytes it
    /// decoded before).
    pub fn skip(&mut self, n: usize) -> DecodeResult<()> {
        self.take(n).map(|_| ())
    }
    /// A single byte.
    #[inline]
    pub fn u8(&mut self) -> DecodeResult<u8> {
        Ok(self.take(1)?[0])
    }
    /// A boolean: any non-zero byte is true, as Java's reader has it.
    #[inline]
    pub fn bool(&mut self) -> DecodeResult<bool> {
        Ok(self.u8()? != 0)
    }
    /// A big-endian `int`.
    #[inline]
    pub fn i32(&mut self) -> DecodeResult<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A big-endian `long`.
    #[inline]
    pub fn i64(&mut self) -> DecodeResult<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    /// A `buffer`; `None` for the null buffer (length -1).
    #[inline]
    pub fn buffer_opt(&mut self) -> DecodeResult<Option<&'a [u8]>> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError::Invalid(format!("negative buffer length {len}")));
        }
        Ok(Some(self.take(len as usize)?))
    }
    /// A `buffer`, null read as empty (ZooKeeper treats them alike for data).
    pub fn buffer(&mut self) -> DecodeResult<Bytes> {
        Ok(Bytes::copy_from_slice(self.buffer_opt()?.unwrap_or(&[])))
    }
    /// A `buffer` holding znode data, keeping null (`None`) apart from empty: ZooKeeper
    /// stores and returns null data as null.
    pub fn data(&mut self) -> DecodeResult<Option<Bytes>> {
        Ok(self.buffer_opt()?.map(Bytes::copy_from_slice))
    }
    /// A `ustring`; `None` for null.
    #[inline]
    pub fn string_opt(&mut self) -> DecodeResult<Option<String>> {
        match self.buffer_opt()? {
            None => Ok(None),
            Some(b) => match std::str::from_utf8(b) {
                Ok(s) => Ok(Some(s.to_string())),
                Err(_) => Ok(Some(decode_cesu8_lossy(b))),
            },
        }
    }
    /// A `ustring`, null read as empty.
    #[inline]
    pub fn string(&mut self) -> DecodeResult<String> {
        Ok(self.string_opt()?.unwrap_or_default())
    }
    /// A vector count: -1 (null) reads as 0. A count that could not fit in the bytes left
    /// (each element takes at least `min_elem_bytes`) is rejected before any allocation.
    pub fn count(&mut self, min_elem_bytes: usize) -> DecodeResult<usize> {
        let n = self.i32()?;
        if n == -1 {
            return Ok(0);
        }
        if n < 0 {
            return Err(DecodeError::Invalid(format!("negative vector count {n}")));
        }
        let n = n as usize;
        if n.saturating_mul(min_elem_bytes.max(1)) > self.remaining() {
            return Err(DecodeError::Invalid(format!("vector count {n} exceeds the bytes left")));
        }
        Ok(n)
    }
    /// An empty vector with room for `n` elements, or fewer: the room reserved never takes
    /// more bytes than the input has left, whatever `n` a length field declared. (A Rust
    /// element can be larger than its encoding, e.g. a 24-byte `String` for a 4-byte empty
    /// string, so reserving `n` outright could cost several times the frame.) Pushing past
    /// the reservation grows the vector as elements really decode.
    pub fn vec_for<T>(&self, n: usize) -> Vec<T> {
        let room = self.remaining() / std::mem::size_of::<T>().max(1);
        Vec::with_capacity(n.min(room))
    }
    /// A `vector<ustring>`.
    pub fn strings(&mut self) -> DecodeResult<Vec<String>> {
        let n = self.count(4)?;
        let mut v = self.vec_for(n);
        for _ in 0..n {
            v.push(self.string()?);
        }
        Ok(v)
    }
}

/// Java's writer emits surrogate pairs as two 3-byte sequences (CESU-8). Rust's strict
/// decoder rejects that, so decode it by hand, replacing anything else invalid.
fn decode_cesu8_lossy(b: &[u8]) -> String {
    let mut units: Vec<u16> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c < 0x80 {
            units.push(c as u16);
            i += 1;
        } else if c & 0xE0 == 0xC0 && i + 1 < b.len() {
            units.push((((c & 0x1F) as u16) << 6) | (b[i + 1] & 0x3F) as u16);
            i += 2;
        } else if c & 0xF0 == 0xE0 && i + 2 < b.len() {
            units.push(
                (((c & 0x0F) as u16) << 12)
                    | (((b[i + 1] & 0x3F) as u16) << 6)
                    | (b[i + 2] & 0x3F) as u16,
            );
            i += 3;
        } else if c & 0xF8 == 0xF0 && i + 3 < b.len() {
            let cp = (((c & 0x07) as u32) << 18)
                | (((b[i + 1] & 0x3F) as u32) << 12)
                | (((b[i + 2] & 0x3F) as u32) << 6)
                | (b[i + 3] & 0x3F) as u32;
            let mut buf = [0u16; 2];
            match char::from_u32(cp) {
                Some(ch) => units.extend_from_slice(ch.encode_utf16(&mut buf)),
                None => units.push(0xFFFD),
            }
            i += 4;
        } else {
            units.push(0xFFFD);
            i += 1;
        }
    }
    String::from_utf16_lossy(&units)
}

/// Appends Jute values to a byte vector.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer { buf: Vec::new() }
    }
    /// A writer appending to an existing vector.
    pub fn from_vec(buf: Vec<u8>) -> Writer {
        Writer { buf }
    }
    /// The bytes written.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// Overwrites a big-endian `int` at `at` (for length prefixes written after the body).
    pub fn patch_i32(&mut self, at: usize, v: i32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
    /// A single byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// A boolean as 0/1.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }
    /// A big-endian `int`.
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// A big-endian `long`.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// A `buffer`.
    pub fn buffer(&mut self, v: &[u8]) {
        // Jute lengths are ints; nothing keeper encodes comes near 2 GiB.
        self.i32(i32::try_from(v.len()).expect("a Jute buffer is shorter than i32::MAX"));
        self.buf.extend_from_slice(v);
    }
    /// A `buffer` holding znode data; `None` is written as null (-1).
    pub fn data(&mut self, v: Option<&Bytes>) {
        match v {
            Some(b) => self.buffer(b),
            None => self.null(),
        }
    }
    /// The null `buffer`.
    pub fn null(&mut self) {
        self.i32(-1);
    }
    /// A `ustring`.
    pub fn string(&mut self, v: &str) {
        self.buffer(v.as_bytes());
    }
    /// A `ustring` that may be null.
    pub fn string_opt(&mut self, v: Option<&str>) {
        match v {
            Some(s) => self.string(s),
            None => self.null(),
        }
    }
    /// A `vector<ustring>`.
    pub fn strings<S: AsRef<str>>(&mut self, v: &[S]) {
        self.i32(i32::try_from(v.len()).expect("a Jute vector holds at most i32::MAX elements"));
        for s in v {
            self.string(s.as_ref());
        }
    }
    /// Raw bytes, no prefix.
    pub fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut w = Writer::new();
        w.i32(-7);
        w.i64(0x1_0000_0003);
        w.bool(true);
        w.string("/a");
        w.null();
        w.strings(&["x", "yz"]);
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.i32(), Ok(-7));
        assert_eq!(r.i64(), Ok(0x1_0000_0003));
        assert_eq!(r.bool(), Ok(true));
        assert_eq!(r.string(), Ok("/a".to_string()));
        assert_eq!(r.string_opt(), Ok(None));
        assert_eq!(r.strings(), Ok(vec!["x".to_string(), "yz".to_string()]));
        assert!(r.is_empty());
    }

    #[test]
    fn lengths_never_overallocate() {
        let mut w = Writer::new();
        w.i32(i32::MAX);
        let bytes = w.into_vec();
        assert_eq!(Reader::new(&bytes).buffer_opt(), Err(DecodeError::Incomplete));
        assert!(matches!(Reader::new(&bytes).count(4), Err(DecodeError::Invalid(_))));
        assert!(matches!(
            Reader::new(&(-5i32).to_be_bytes()).buffer_opt(),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn java_cesu8_surrogates_decode() {
        // U+1F600 as Java writes it: two 3-byte surrogate encodings.
        let java = [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80];
        let mut w = Writer::new();
        w.buffer(&java);
        let bytes = w.into_vec();
        assert_eq!(Reader::new(&bytes).string().unwrap(), "\u{1F600}");
    }
}
