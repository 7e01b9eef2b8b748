//! The interactive shell (zkCli-like). Placeholder: another branch provides it.

/// Runs the shell with its own arguments.
pub fn main(args: Vec<String>) -> std::process::ExitCode {
    let _ = args;
    eprintln!("keeper shell: not yet");
    std::process::ExitCode::FAILURE
}
