//! The `keeper sim` command line. Placeholder: the simulator branch provides it.

/// Runs `keeper sim` with its own arguments.
pub fn main(args: Vec<String>) -> std::process::ExitCode {
    let _ = args;
    eprintln!("keeper sim: not yet");
    std::process::ExitCode::FAILURE
}
