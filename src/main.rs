use std::process::ExitCode;

use clap::Parser;

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
