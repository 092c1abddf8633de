//! TLS fixtures: a test CA, a server certificate for `localhost` / 127.0.0.1 and
//! a client certificate, made with rcgen and written as PEM files; and a rustls
//! client that trusts the CA.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// PEM files in a temporary directory.
pub struct TlsFixture {
    /// The directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// The CA certificate (for `--cafile`).
    pub ca: PathBuf,
    /// The server certificate (signed by the CA).
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
    /// A client certificate (CN `alice`, signed by the CA).
    pub client_cert: PathBuf,
    /// The client key.
    pub client_key: PathBuf,
}

impl TlsFixture {
    /// Generates the CA and the certificates.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "realtime-server test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, cn: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.distinguished_name.push(DnType::CommonName, cn);
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (cert, key) = leaf(vec!["localhost".into(), "127.0.0.1".into()], "localhost");
        let (client_cert, client_key) = leaf(vec![], "alice");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Self {
            ca: write("ca.pem", &ca_cert.pem()),
            cert: write("server.pem", &cert),
            key: write("server.key", &key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            dir,
        }
    }

    /// A TLS listener section on 127.0.0.1:0 with these files.
    pub fn listener(&self) -> realtime_server::config::TlsListener {
        realtime_server::config::TlsListener {
            enabled: true,
            bind: "127.0.0.1:0".parse().unwrap(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            client_ca: None,
            client_auth: Default::default(),
            allow_anonymous: None,
        }
    }

    /// A rustls client trusting the test CA, with the client certificate if
    /// `with_client_cert`.
    pub fn client_config(&self, with_client_cert: bool) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&self.ca).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_client_cert {
            let chain: Vec<_> = CertificateDer::pem_file_iter(&self.client_cert)
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
            let key = PrivateKeyDer::from_pem_file(&self.client_key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        Arc::new(config)
    }

    /// Connects over TLS to `addr` as `localhost`.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        with_client_cert: bool,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let connector = tokio_rustls::TlsConnector::from(self.client_config(with_client_cert));
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await
    }
}

impl Default for TlsFixture {
    fn default() -> Self {
        Self::new()
    }
}
