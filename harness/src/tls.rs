//! TLS: a fresh self-signed ECDSA P-256 certificate per run, and client configs that pin it.
//!
//! The certificate is valid for 14 days (the longest browsers accept for WebTransport's
//! `serverCertificateHashes`) and names the bind address and `localhost`. Clients trust it by
//! its SHA-256 (DER) hash, learned out of band (`/cert-hash`, the control channel or a flag),
//! never by turning verification off.

use std::sync::Arc;

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// Errors making certificates or TLS configs.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Cert(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// A pinned hash was not 64 hex digits.
    #[error("certificate hash {0:?} is not 64 hex digits")]
    BadHash(String),
}

/// The server's certificate and key, plus the hashes clients pin.
#[derive(Debug, Clone)]
pub struct Identity {
    /// DER certificate.
    pub cert_der: CertificateDer<'static>,
    /// PKCS#8 DER private key.
    pub key_der: Vec<u8>,
    /// SHA-256 of the DER certificate.
    pub cert_sha256: [u8; 32],
    /// SHA-256 of the SubjectPublicKeyInfo, base64 (Chromium's `--ignore-certificate-errors-spki-list`).
    pub spki_sha256_b64: String,
}

/// The crypto provider used everywhere (ring: no C build step beyond ring's own).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Identity {
    /// Generates a fresh ECDSA P-256 certificate valid from 1 hour ago for 14 days, with
    /// subject alternative names for `bind_host` and `localhost`.
    pub fn generate(bind_host: &str) -> Result<Self, TlsError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut names = vec!["localhost".to_string()];
        if bind_host != "localhost" && !bind_host.is_empty() {
            names.push(bind_host.to_string());
        }
        let mut params = rcgen::CertificateParams::new(names)?;
        let now = std::time::SystemTime::now();
        params.not_before = (now - std::time::Duration::from_secs(3600)).into();
        params.not_after = (now + std::time::Duration::from_secs(14 * 24 * 3600 - 7200)).into();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "wirebench");
        let cert = params.self_signed(&key)?;
        let cert_der = cert.der().clone();
        let cert_sha256: [u8; 32] = Sha256::digest(&cert_der).into();
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        let spki_sha256_b64 =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&spki));
        Ok(Self {
            cert_der,
            key_der: key.serialize_der(),
            cert_sha256,
            spki_sha256_b64,
        })
    }

    /// Lowercase hex of the certificate hash (`/cert-hash`).
    pub fn cert_sha256_hex(&self) -> String {
        hex(&self.cert_sha256)
    }

    /// Writes the certificate and key as PEM files `cert.pem` and `key.pem` (mode 0600) into
    /// `dir`, for a reverse proxy in front of the server to terminate TLS with the same
    /// certificate the clients pin.
    pub fn write_pem(&self, dir: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        for (name, label, der) in [
            ("cert.pem", "CERTIFICATE", self.cert_der.as_ref()),
            ("key.pem", "PRIVATE KEY", self.key_der.as_slice()),
        ] {
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let mut pem = format!("-----BEGIN {label}-----\n");
            for line in b64.as_bytes().chunks(64) {
                pem.push_str(&String::from_utf8_lossy(line));
                pem.push('\n');
            }
            pem.push_str(&format!("-----END {label}-----\n"));
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(dir.join(name))?
                .write_all(pem.as_bytes())?;
        }
        Ok(())
    }

    /// A rustls server config for HTTPS with the given ALPN protocols.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, TlsError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)?;
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(cfg)
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a 64-digit hex SHA-256.
pub fn parse_hash(s: &str) -> Result<[u8; 32], TlsError> {
    let s = s.trim();
    let bad = || TlsError::BadHash(s.to_string());
    if s.len() != 64 || !s.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Accepts exactly one certificate: the one whose DER SHA-256 is pinned. Signatures are still
/// verified with the provider's algorithms, so the handshake proves possession of the key.
#[derive(Debug)]
struct PinnedCert {
    sha256: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if got == self.sha256 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "server certificate sha256 {} does not match the pinned {}",
                hex(&got),
                hex(&self.sha256)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client config that trusts only the certificate with this SHA-256, offering `alpn`.
pub fn pinned_client_config(
    sha256: [u8; 32],
    alpn: &[&[u8]],
) -> Result<rustls::ClientConfig, TlsError> {
    let provider = provider();
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCert { sha256, provider }))
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_hashes_and_hex_round_trip() {
        let id = Identity::generate("127.0.0.1").unwrap();
        let h = id.cert_sha256_hex();
        assert_eq!(h.len(), 64);
        assert_eq!(parse_hash(&h).unwrap(), id.cert_sha256);
        assert!(parse_hash("zz").is_err());
        assert!(id.server_config(&[b"http/1.1"]).is_ok());
    }
}
