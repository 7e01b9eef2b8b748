//! net-tokio (in progress).
pub mod client;
