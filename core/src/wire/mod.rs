//! The ZooKeeper client wire protocol: Jute primitives, frames, and every record.
//!
//! Pure encode/decode shared by the tokio shell, the simulator's clients and the tests
//! (ZK-REFERENCE.md §1-3). [`codec`] is the facade to call; the other modules follow the
//! protocol's own concepts: [`jute`] (the primitive encoding), [`frame`] (length prefixes),
//! [`records`] (Stat, ACL, headers, the handshake), `request` and `response` (one record
//! per opcode), [`multi`] (multi and multiRead framing), [`four_letter`] (text commands).
//! Invariant: bytes from the network never panic a decoder and never make it allocate
//! more than they could hold; they decode into a value or an error.

pub mod codec;
pub mod four_letter;
pub mod frame;
pub mod jute;
pub mod multi;
pub mod records;
mod request;
mod response;
