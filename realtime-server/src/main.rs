//! `realtime-server` binary: parse the command line and configuration, then
//! run the server, check a configuration file, or edit a password file.

use clap::Parser;
use realtime_server::config::{Cli, Command, Config, LogFormat};
use realtime_server::{Server, auth};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::CheckConfig { file }) => check_config(file),
        Some(Command::Passwd(args)) => match auth::passwd_command(args) {
            Ok(message) => {
                println!("{message}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        },
        None => {
            let config = match cli.overrides.resolve() {
                Ok(config) => config,
                Err(errors) => {
                    eprintln!("invalid configuration:\n{errors}");
                    return ExitCode::from(2);
                }
            };
            init_logging(&config);
            let mut runtime = tokio::runtime::Builder::new_multi_thread();
            runtime.enable_all();
            if config.runtime.worker_threads > 0 {
                runtime.worker_threads(config.runtime.worker_threads);
            }
            match runtime.build() {
                Ok(rt) => rt.block_on(serve(config)),
                Err(err) => {
                    eprintln!("error: cannot start the runtime: {err}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match Config::load(file) {
        Ok(config) => {
            println!("# {}: valid. Effective configuration:\n", file.display());
            print!("{}", config.to_toml());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).init(),
    }
}

async fn serve(config: Config) -> ExitCode {
    let server = match Server::bind(&config).await {
        Ok(server) => server,
        Err(err) => {
            tracing::error!(%err, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    for (name, addr) in server.addresses() {
        tracing::info!(listener = name, %addr, "listening");
    }
    match server.run_until_signal().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "server stopped");
            ExitCode::FAILURE
        }
    }
}
