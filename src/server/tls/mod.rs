//! HTTPS: the TLS configuration ([`TlsConfig`]: PEM files as Python's 3.14 flags take them, or
//! a self-signed certificate made in memory) and the server side of the handshake.
//!
//! rustls with the *ring* provider (it builds with a C compiler alone), TLS 1.2 and 1.3 only,
//! ALPN `h2` and `http/1.1`. The accept loop hands each TCP stream to [`handshake`] and then to
//! the same hyper connection code as plain HTTP, monomorphised for the TLS stream: the plain
//! path pays nothing for TLS being there.

mod pem;
mod self_signed;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::crypto::ring::default_provider;
use rustls::ServerConfig;
use rustls_pki_types::CertificateDer;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::stream::Stream;
use crate::access_log::{AccessLog, Client};

/// A TLS record of type handshake starts every TLS connection (RFC 8446 §5.1, content type 22).
const HANDSHAKE_RECORD: u8 = 0x16;

/// A server certificate and key, ready to serve HTTPS with [`Server::tls`](super::Server::tls).
///
/// ```no_run
/// let tls = serveur::TlsConfig::from_pem_files("cert.pem".as_ref(), None, None)?;
/// # Ok::<(), serveur::TlsError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TlsConfig {
    config: Arc<ServerConfig>,
    leaf: CertificateDer<'static>,
}

/// Why a TLS configuration could not be made: one sentence naming the file at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

impl TlsError {
    fn new(message: String) -> Self {
        TlsError(message)
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl TlsConfig {
    /// Loads the PEM certificate chain in `cert` and the private key in `key` (or in `cert`
    /// when `key` is `None`), decrypting an encrypted PKCS#8 key with `password`; the key must
    /// match the certificate.
    pub fn from_pem_files(
        cert: &Path,
        key: Option<&Path>,
        password: Option<&str>,
    ) -> Result<TlsConfig, TlsError> {
        let chain = pem::certificates(cert)?;
        let key_path = key.unwrap_or(cert);
        let key = pem::private_key(key_path, password)?;
        let leaf = chain[0].clone();
        let config = builder()?
            .with_single_cert(chain, key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => TlsError::new(format!(
                    "the private key in {} does not match the certificate in {}",
                    key_path.display(),
                    cert.display()
                )),
                e => TlsError::new(format!("unusable key in {}: {e}", key_path.display())),
            })?;
        Ok(TlsConfig {
            config: Arc::new(config),
            leaf,
        })
    }

    /// A self-signed certificate made now, in memory, for `localhost`, `127.0.0.1`, `::1`
    /// and the `extra` names or addresses (the bind address).
    pub fn self_signed(extra: &[String]) -> Result<TlsConfig, TlsError> {
        let (chain, key) = self_signed::generate(extra)?;
        let leaf = chain[0].clone();
        let config = builder()?
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::new(format!("self-signed certificate: {e}")))?;
        Ok(TlsConfig {
            config: Arc::new(config),
            leaf,
        })
    }

    /// The SHA-256 fingerprint of the leaf certificate, as browsers show it
    /// (`AB:CD:…`, 32 bytes in upper-case hex).
    pub fn fingerprint(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.leaf);
        let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    /// A warning when the leaf certificate is expired or not yet valid (clients will refuse
    /// it, but serving it is the user's choice, as with Python).
    pub fn validity_warning(&self) -> Option<String> {
        use x509_cert::der::Decode;
        let cert = x509_cert::Certificate::from_der(&self.leaf).ok()?;
        let validity = cert.tbs_certificate.validity;
        let now = SystemTime::now();
        if now > validity.not_after.to_system_time() {
            Some(format!(
                "the TLS certificate expired on {}",
                validity.not_after
            ))
        } else if now < validity.not_before.to_system_time() {
            Some(format!(
                "the TLS certificate is not valid before {}",
                validity.not_before
            ))
        } else {
            None
        }
    }

    /// The acceptor: ALPN `h2` then `http/1.1`, or `http/1.1` alone when HTTP/2 is off.
    pub(crate) fn acceptor(&self, http2: bool) -> TlsAcceptor {
        let mut config = ServerConfig::clone(&self.config);
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        TlsAcceptor::from(Arc::new(config))
    }
}

/// rustls with ring, TLS 1.3 and 1.2 only, no client certificates.
fn builder(
) -> Result<rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>, TlsError> {
    let builder = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::new(format!("TLS set-up: {e}")))?;
    Ok(builder.with_no_client_auth())
}

/// The server side of the handshake, bounded by `timeout`. A client that speaks plain HTTP to
/// the TLS port, stalls or fails the handshake gets one log line and a closed connection.
pub(crate) async fn handshake<S: Stream>(
    acceptor: &TlsAcceptor,
    stream: S,
    timeout: Duration,
    log: &AccessLog,
    client: Client,
) -> Option<TlsStream<S>> {
    let attempt = async {
        let mut first = [0u8; 1];
        match stream.peek(&mut first).await? {
            // Gone before saying anything (a port check): nothing to report.
            0 => Ok(Err(None)),
            _ if first[0] != HANDSHAKE_RECORD => Ok(Err(Some(
                "plain HTTP sent to the HTTPS port; connection closed".to_owned(),
            ))),
            _ => acceptor.accept(stream).await.map(Ok),
        }
    };
    let message = match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(Ok(tls))) => return Some(tls),
        Ok(Ok(Err(None))) => return None,
        Ok(Ok(Err(Some(message)))) => message,
        Ok(Err(e)) => format!("TLS handshake failed: {e}"),
        Err(_) => format!("TLS handshake timed out after {timeout:?}"),
    };
    log.message_about(Some(client), message);
    None
}
