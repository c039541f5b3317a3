//! Reading a certificate chain and its private key from PEM files, as Python's
//! `SSLContext.load_cert_chain(certfile, keyfile, password)` takes them: the key may sit in the
//! certificate file; it may be PKCS#8, PKCS#1 (RSA) or SEC1 (EC); an encrypted PKCS#8 key is
//! decrypted with the password. Every failure is one sentence naming the file.

use std::path::Path;

use pkcs8::der::SecretDocument;
use pkcs8::EncryptedPrivateKeyInfo;
use rustls_pki_types::pem::{Error as PemError, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::TlsError;

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The certificate chain in `path`, leaf first.
pub(super) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = read(path, "certificate")?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new(format!("{}: bad PEM: {e}", path.display())))?;
    if chain.is_empty() {
        return Err(TlsError::new(format!(
            "no certificate found in {}",
            path.display()
        )));
    }
    Ok(chain)
}

/// The private key in `path`, decrypted with `password` when it is an encrypted PKCS#8 key.
pub(super) fn private_key(
    path: &Path,
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text = read(path, "key")?;
    let shown = path.display();
    if let Some(encrypted) = encrypted_block(&text) {
        let password = password.ok_or_else(|| {
            TlsError::new(format!(
                "the private key in {shown} is encrypted and no password was given"
            ))
        })?;
        return decrypt(encrypted, password, path);
    }
    if text.windows(22).any(|w| w == b"Proc-Type: 4,ENCRYPTED") {
        return Err(TlsError::new(format!(
            "the private key in {shown} uses the legacy OpenSSL encryption, which is not \
             supported: convert it with `openssl pkcs8 -topk8`"
        )));
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        PemError::NoItemsFound => TlsError::new(format!("no private key found in {shown}")),
        e => TlsError::new(format!("{shown}: bad PEM: {e}")),
    })
}

/// The `ENCRYPTED PRIVATE KEY` block of a PEM file (RFC 5958 §3, RFC 7468 §11), if any.
fn encrypted_block(text: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(text).ok()?;
    let start = text.find(ENCRYPTED_BEGIN)?;
    let end = text[start..].find(ENCRYPTED_END)? + start + ENCRYPTED_END.len();
    Some(&text[start..end])
}

fn decrypt(block: &str, password: &str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let shown = path.display();
    let (_, document) = SecretDocument::from_pem(block)
        .map_err(|e| TlsError::new(format!("{shown}: bad encrypted key: {e}")))?;
    let info = EncryptedPrivateKeyInfo::try_from(document.as_bytes())
        .map_err(|e| TlsError::new(format!("{shown}: bad encrypted key: {e}")))?;
    let plain = info.decrypt(password).map_err(|_| {
        TlsError::new(format!(
            "cannot decrypt the private key in {shown}: wrong password"
        ))
    })?;
    Ok(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec()).into())
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| {
        TlsError::new(format!(
            "cannot read the TLS {what} file {}: {e}",
            path.display()
        ))
    })
}
