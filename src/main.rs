use std::process::ExitCode;

use clap::Parser;

/// The system allocator; in a sandbox process it also enforces a run's memory limit.
#[global_allocator]
static ALLOCATOR: switchboard::script::sandbox::allocator::Budgeted =
    switchboard::script::sandbox::allocator::Budgeted;

fn main() -> ExitCode {
    // reqwest and sqlx each bring a rustls backend; pick one before any client exists.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = switchboard::cli::Cli::parse();
    // A sandbox process runs scripts and nothing else: no configuration, no runtime.
    if let switchboard::cli::Command::Sandbox { memory_mb } = cli.command {
        return switchboard::script::sandbox::main(memory_mb * 1024 * 1024);
    }
    switchboard::telemetry::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(switchboard::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
