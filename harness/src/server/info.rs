//! What `GET /info` tells a client about the server under test.

use serde::Serialize;

/// What `GET /info` returns.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    /// wirebench version.
    pub version: String,
    /// Transport ids served.
    pub transports: Vec<String>,
    /// Base URL of the HTTP endpoints.
    pub url: String,
    /// WebTransport URL (`https://HOST:P/wt`).
    pub webtransport_url: String,
    /// Address of the raw `tcp` transport.
    pub tcp: String,
    /// SHA-256 of the DER certificate, lowercase hex (null with --plaintext).
    pub cert_sha256: Option<String>,
    /// SHA-256 of the certificate's SPKI, base64, for Chromium's
    /// `--ignore-certificate-errors-spki-list`.
    pub spki_sha256: Option<String>,
}
