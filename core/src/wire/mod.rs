//! The ZooKeeper client wire protocol: Jute primitives, frames, and every record.
//! CONTRACT STUB for the codec: see `codec` for the functions the shells call.

pub mod codec;
pub mod jute;
