//! Process signals: SIGHUP reloads the password and ACL files (swapped
//! atomically; connections keep running); SIGTERM and SIGINT end the wait so the
//! server shuts down gracefully.

use crate::broker::Broker;

/// Waits for SIGTERM or SIGINT, reloading the auth files on every SIGHUP meanwhile.
pub async fn until_terminated(broker: &Broker) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot install signal handlers; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::info!("SIGTERM: shutting down");
                    return;
                }
                _ = tokio::signal::ctrl_c() => {
                    tracing::info!("SIGINT: shutting down");
                    return;
                }
                _ = hup.recv() => reload(broker),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Reloads the password and ACL files; on error the files in force stay.
pub fn reload(broker: &Broker) {
    match broker.auth.reload() {
        Ok(()) => tracing::info!("SIGHUP: password and ACL files reloaded"),
        Err(err) => {
            tracing::error!(%err, "SIGHUP: reload failed; the previous files stay in force")
        }
    }
}
