//! net-tokio (in progress).
pub mod storage;
