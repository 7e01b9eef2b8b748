//! net-tokio (in progress).
