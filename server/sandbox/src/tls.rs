//! HTTPS for the sandbox API.
//!
//! The API authenticates bearer tokens, and kubectl (client-go) sends credentials only over
//! TLS: on plain HTTP every kubectl call would be anonymous. So the sandbox is its own
//! small certificate authority: at first start it makes a CA and a server certificate for
//! `127.0.0.1`, `::1` and `localhost` (`<state>/pki/`), and the kubeconfigs it writes trust
//! that CA (`certificate-authority-data`), as a kubeadm cluster's do. The CA's private key
//! is not kept: nothing else is ever signed with it. Delete the directory to make new ones.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
};
use tokio_rustls::{TlsAcceptor, rustls, server::TlsStream};

use crate::{
    auth::users::write_private,
    error::{Result, SandboxError},
};

/// A handshake that takes longer is dropped, so a silent client cannot hold a slot.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The sandbox's CA certificate and the server's certificate and key (PEM).
#[derive(Clone)]
pub struct Pki {
    pub ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki_error(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::io(
        format!("cannot {what} the sandbox's TLS certificates"),
        std::io::Error::other(e.to_string()),
    )
}

impl Pki {
    /// Reads `<state_dir>/pki/`, or makes a new CA and server certificate there.
    pub fn load_or_create(state_dir: &Path) -> Result<Pki> {
        let dir = state_dir.join("pki");
        let (ca, cert, key) = (
            dir.join("ca.crt"),
            dir.join("server.crt"),
            dir.join("server.key"),
        );
        if let (Ok(ca_pem), Ok(cert_pem), Ok(key_pem)) = (
            std::fs::read_to_string(&ca),
            std::fs::read_to_string(&cert),
            std::fs::read_to_string(&key),
        ) {
            let pki = Pki {
                ca_pem,
                cert_pem,
                key_pem,
            };
            if pki.server_config().is_ok() {
                return Ok(pki);
            }
            tracing::warn!(
                "{} holds unusable certificates; making new ones",
                dir.display()
            );
        }
        let pki = Pki::generate()?;
        write_private(&key, &pki.key_pem)?;
        write_private(&cert, &pki.cert_pem)?;
        write_private(&ca, &pki.ca_pem)?;
        Ok(pki)
    }

    fn generate() -> Result<Pki> {
        use rcgen::{
            BasicConstraints, CertificateParams, DistinguishedName, DnType,
            ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().map_err(|e| pki_error("make", e))?;
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "sluice-sandbox-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| pki_error("make", e))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().map_err(|e| pki_error("make", e))?;
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])
        .map_err(|e| pki_error("make", e))?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "sluice-sandbox-apiserver");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| pki_error("make", e))?;
        Ok(Pki {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    fn server_config(&self) -> Result<rustls::ServerConfig> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| pki_error("read", e))?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| pki_error("read", e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| pki_error("use", e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| pki_error("use", e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// The CA certificate, base64 for a kubeconfig's `certificate-authority-data`.
    pub fn ca_data(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.ca_pem.as_bytes())
    }
}

/// A listener that hands axum TLS connections. Handshakes run concurrently (each bounded
/// by [`HANDSHAKE_TIMEOUT`]), so one slow client does not hold up the others.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` until `shutdown` turns true.
    pub fn new(tcp: TcpListener, pki: &Pki, mut shutdown: watch::Receiver<bool>) -> Result<Self> {
        let addr = tcp
            .local_addr()
            .map_err(|e| SandboxError::io("cannot read the listening address", e))?;
        let acceptor = TlsAcceptor::from(Arc::new(pki.server_config()?));
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let stop = async {
                    let _ = shutdown.wait_for(|s| *s).await;
                };
                let (stream, peer) = tokio::select! {
                    _ = stop => return,
                    accepted = tcp.accept() => match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            tracing::debug!("sandbox API accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("sandbox API: TLS handshake with {peer}: {e}")
                        }
                        Err(_) => {
                            tracing::debug!("sandbox API: TLS handshake with {peer} timed out")
                        }
                    }
                });
            }
        });
        Ok(TlsListener { ready, addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // Accepting stopped (shutdown): wait for the server's graceful shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(dir.path()).unwrap();
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        first.server_config().expect("a usable server config");
        let again = Pki::load_or_create(dir.path()).unwrap();
        assert_eq!(first.ca_pem, again.ca_pem);
        assert_eq!(first.cert_pem, again.cert_pem);
    }
}
