//! `realtime-server` binary: parse the configuration, bind, serve until SIGINT/SIGTERM.

use clap::Parser;
use realtime_server::{Config, Server};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    let server = match Server::bind(&config).await {
        Ok(server) => server,
        Err(err) => {
            tracing::error!(%err, "cannot bind listeners");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let (Ok(mqtt), Ok(http)) = (server.mqtt_addr(), server.http_addr()) {
        tracing::info!(%mqtt, %http, "realtime-server listening");
    }
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    match server.run(rx).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "server stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
