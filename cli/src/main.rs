//! The `keeper` binary.
fn main() {}
