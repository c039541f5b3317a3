//! `--tls-self-signed`: a certificate made at start-up with rcgen, kept in memory only, for the
//! names a developer types in a browser (localhost, 127.0.0.1, `[::1]`) and the bind address.

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

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
    let failed =
        |e: rcgen::Error| TlsError::new(format!("cannot make a self-signed certificate: {e}"));
    // rcgen makes IP address entries of the names that parse as addresses.
    let mut params = rcgen::CertificateParams::new(names).map_err(failed)?;
    (params.not_before, params.not_after) = validity(OffsetDateTime::now_utc());
    let key_pair = rcgen::KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key_pair).map_err(failed)?;
    let key = PrivatePkcs8KeyDer::from(key_pair.serialize_der());
    Ok((vec![cert.der().clone()], key.into()))
}

/// The validity of a certificate made `now`: from a day before (a client whose clock is a
/// little behind still accepts it) for 365 days in all. rcgen's default, 1975 to 4096, is a
/// lifetime browsers and TLS scanners flag; CA/Browser Forum rules cap a server certificate
/// at 398 days.
fn validity(now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let not_before = now - Duration::days(1);
    (not_before, not_before + Duration::days(365))
}
