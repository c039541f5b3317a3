//! `--tls-self-signed`: a certificate made at start-up with rcgen, kept in memory only, for the
//! names a developer types in a browser (localhost, 127.0.0.1, `[::1]`) and the bind address.

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::TlsError;

/// The names every self-signed certificate covers.
const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A fresh certificate (ECDSA P-256, rcgen's default) and its key.
pub(super) fn generate(
    extra: &[String],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let mut names: Vec<String> = LOCAL_NAMES.iter().map(|n| (*n).to_owned()).collect();
    for name in extra {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    // rcgen makes IP address entries of the names that parse as addresses.
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError::new(format!("cannot make a self-signed certificate: {e}")))?;
    let key = PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    Ok((vec![made.cert.der().clone()], key.into()))
}
