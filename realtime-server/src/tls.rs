//! TLS for the MQTT-over-TLS and HTTPS listeners: rustls with the `ring`
//! provider, certificate chain and key from PEM files, optional client
//! certificates checked against a CA file.

use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;

use crate::config::{ClientAuth, TlsListener};
use crate::conn::Driven;

/// Accepts TLS connections.
pub type TlsAcceptor = tokio_rustls::TlsAcceptor;

/// A server-side TLS connection over TCP.
pub type TlsStream = tokio_rustls::server::TlsStream<TcpStream>;

fn certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()));
    }
    Ok(certs)
}

/// The acceptor for a TLS listener: its certificate chain and key, and client
/// certificates as configured.
pub fn acceptor(listener: &TlsListener) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs(&listener.cert)?;
    let key = PrivateKeyDer::from_pem_file(&listener.key)
        .map_err(|e| format!("{}: {e}", listener.key.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match (listener.client_auth, &listener.client_ca) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (mode, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for cert in certs(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| e.to_string())?)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("{}: {e}", listener.cert.display()))?;
    config.alpn_protocols = vec![b"mqtt".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Runs the TLS handshake within `limit`; `None` (logged) if it fails or is slow.
pub async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    limit: Duration,
) -> Option<TlsStream> {
    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(err)) => {
            tracing::info!(%err, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::info!("TLS handshake not complete within {limit:?}");
            None
        }
    }
}

impl Driven for TlsStream {
    fn drive<P: crate::conn::Protocol + Send>(
        self,
        proto: P,
        input: bytes::BytesMut,
        wake: Arc<crate::conn::ConnWake>,
        shutdown: tokio::sync::watch::Receiver<bool>,
        config: &crate::conn::tcp::DriverConfig,
    ) -> impl std::future::Future<Output = crate::conn::tcp::Ended> + Send {
        crate::conn::io::drive_with_input(self, proto, input, wake, shutdown, config)
    }
}
