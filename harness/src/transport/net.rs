//! Client-side connection set-up shared by the TCP-based transports: TCP (no Nagle), then TLS
//! pinned to the server's certificate when the target asks for it, with each phase timed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};

use super::api::{Setup, Target, TransportError};

/// A byte stream: plain TCP or TLS over TCP.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

/// Connects to `addr` over TCP with TCP_NODELAY, from `local_ip` when given.
pub async fn tcp_connect(
    addr: SocketAddr,
    local_ip: Option<IpAddr>,
) -> Result<TcpStream, TransportError> {
    let tcp = match local_ip {
        None => TcpStream::connect(addr).await,
        Some(ip) => {
            let sock = if ip.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .map_err(|e| TransportError::io("creating a TCP socket", e))?;
            sock.bind(SocketAddr::new(ip, 0))
                .map_err(|e| TransportError::io(format!("binding {ip}"), e))?;
            sock.connect(addr).await
        }
    }
    .map_err(|e| TransportError::io(format!("connect to {addr}"), e))?;
    tcp.set_nodelay(true)
        .map_err(|e| TransportError::io("set TCP_NODELAY", e))?;
    Ok(tcp)
}

/// Connects to `addr` over TCP with TCP_NODELAY, then TLS if `target.tls`, recording the phases
/// `tcp` and `tls` into `setup`.
pub async fn connect_stream(
    target: &Target,
    addr: SocketAddr,
    tls: bool,
    alpn: &[&[u8]],
    setup: &mut Setup,
) -> Result<Box<dyn ByteStream>, TransportError> {
    let t0 = Instant::now();
    let tcp = tcp_connect(addr, target.local_ip).await?;
    let t1 = Instant::now();
    setup.phases.push(("tcp", t1 - t0));
    if !tls {
        return Ok(Box::new(tcp));
    }
    let pin = target.cert_sha256.ok_or_else(|| {
        TransportError::Tls("no certificate hash to pin (get it from /cert-hash)".into())
    })?;
    let cfg = crate::tls::pinned_client_config(pin, alpn)
        .map_err(|e| TransportError::Tls(e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let name = ServerName::IpAddress(addr.ip().into());
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| TransportError::Tls(format!("handshake with {addr}: {e}")))?;
    setup.phases.push(("tls", t1.elapsed()));
    Ok(Box::new(stream))
}
