//! Runs `keeper sim ...` without the cli crate: `cargo run -p keeper-sim --example sim -- run --seed 1`.

fn main() -> std::process::ExitCode {
    keeper_sim::cli::main(std::env::args().skip(1).collect())
}
