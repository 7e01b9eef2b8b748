//! The `keeper` binary: run a server, show a server's status, the shell, the simulator,
//! the load generator.
//!
//! Sub-tools (`shell`, `sim`, `bench`) parse their own arguments: everything after their name is
//! passed through untouched.

mod bench;
mod ops;
mod shell;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "keeper", version, about = "A ZooKeeper-compatible coordination service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a server from a zoo.cfg.
    Server {
        /// Path of zoo.cfg.
        config_path: Option<PathBuf>,
        /// Path of zoo.cfg (alternative spelling).
        #[arg(long = "config")]
        config: Option<PathBuf>,
    },
    /// Print a running server's mode (`srvr`), like `zkServer.sh status`.
    Status {
        /// Path of zoo.cfg (its clientPort/clientPortAddress are used); default ./zoo.cfg.
        config_path: Option<PathBuf>,
    },
    /// The interactive shell (zkCli's commands).
    Shell {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run, replay, shrink or swarm simulations.
    Sim {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Data management: import-zk, inspect, purge, snapshot, restore.
    #[command(flatten)]
    Ops(ops::Command),
    /// Closed-loop load generator against any ZooKeeper server (`keeper bench --help`).
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Server { config_path, config } => {
            let Some(path) = config.or(config_path) else {
                eprintln!("keeper server: give the zoo.cfg path");
                return ExitCode::from(2);
            };
            run_server(path)
        }
        Command::Status { config_path } => {
            run_status(config_path.unwrap_or_else(|| PathBuf::from("zoo.cfg")))
        }
        Command::Shell { args } => shell::main(args),
        Command::Sim { args } => keeper_sim::cli::main(args),
        Command::Ops(cmd) => ops::main(cmd),
        Command::Bench { args } => bench::main(args),
    }
}

fn run_server(path: PathBuf) -> ExitCode {
    let cfg = match keeper_net::startup::load_config(&path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("keeper server: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_tracing();
    // One thread by default: a request then goes from its socket through the node to its
    // reply without a cross-thread wake-up (a futex call each), which was a third of the
    // server's CPU per getData with tokio's default of one worker per core.
    let mut builder = if cfg.server_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(cfg.server_threads);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keeper server: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let span = tracing::info_span!("server", id = cfg.config.server_id.0);
    let result = runtime.block_on(tracing::Instrument::instrument(
        async move {
            let listener = keeper_net::startup::bind_client_port(&cfg).await?;
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let stopper = async move {
                wait_for_stop_signal().await;
                tracing::info!("stop signal: shutting down");
                let _ = stop_tx.send(true);
            };
            tokio::spawn(tracing::Instrument::in_current_span(stopper));
            keeper_net::startup::serve(cfg, listener, stop_rx).await
        },
        span,
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("keeper server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_status(path: PathBuf) -> ExitCode {
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("keeper status: cannot read {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let cfg = match keeper_core::zoocfg::ZooCfg::parse(&text) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("keeper status: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(port) = cfg.client_port else {
        eprintln!("keeper status: {} has no clientPort", path.display());
        return ExitCode::FAILURE;
    };
    let host = match cfg.client_port_address.as_deref() {
        None | Some("0.0.0.0") => "127.0.0.1".to_string(),
        Some(h) => h.to_string(),
    };
    println!("Client port found: {port}. Client address: {host}.");
    match status::mode_and_zxid(&format!("{host}:{port}")) {
        Ok((mode, zxid)) => {
            println!("Mode: {mode}");
            if let Some(zxid) = zxid {
                println!("Zxid: {zxid}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error contacting service. It is probably not running. ({e})");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, RUST_LOG filter (INFO by default). The server id reaches every line
/// through the `server{id=N}` span the runtime's root future and every spawned task carry.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Resolves on Ctrl-C or SIGTERM (how zkServer.sh and test harnesses stop a server).
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
