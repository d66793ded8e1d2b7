//! TLS for everything the cloud serves: the API, the embedded object store and the
//! embedded broker.
//!
//! ```text
//!  --tls-cert/--tls-key given ──► that chain (e.g. Let's Encrypt); clients use system roots
//!  otherwise ──► <data-dir>/tls/ca.pem + ca-key.pem (made once, kept) ──► a server
//!                certificate made at every start for the names and addresses of this
//!                host (and --public-url), chain [server, CA]
//! ```
//!
//! Clients trust the made CA through the pairing, not a switch: the cloud link
//! (`https://host:8470#ca=sha256:…`, printed at start and shown by the app) carries the
//! SHA-256 of the CA certificate. A client fetches `GET /api/v1/tls/ca.pem` once,
//! compares it with the pin and from then on trusts only that CA
//! ([`eyrie_protocol::trust`]).
//!
//! [`TlsListener`] does the handshakes off the accept loop (a slow or silent client cannot
//! hold up the others) and hands finished connections to axum; [`accept`] serves the
//! embedded store's own loop and the embedded broker's front (`crate::mqtt`).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eyrie_protocol::trust::CaPin;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

/// A handshake that has not finished by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server side of TLS, shared by the three listeners.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// The CA the cloud made (PEM) and its pin; None with a certificate the user gave.
    pub ca: Option<(String, CaPin)>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("ca_pin", &self.ca.as_ref().map(|(_, p)| p.to_string()))
            .finish()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Load the certificate the user gave.
pub fn from_files(cert: &Path, key: &Path) -> anyhow::Result<Tls> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| anyhow::anyhow!("cannot read the certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("no certificate in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("cannot read the private key {}: {e}", key.display()))?;
    Ok(Tls {
        acceptor: TlsAcceptor::from(server_config(chain, key)?),
        ca: None,
    })
}

/// The cloud's own CA (made on first start under `<data_dir>/tls`) and a server
/// certificate from it for `names` (DNS names and IP addresses).
pub fn own_ca(data_dir: &Path, names: &[String]) -> anyhow::Result<Tls> {
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir)?;
    let key_path = dir.join("ca-key.pem");
    let cert_path = dir.join("ca.pem");
    let ca_key = match std::fs::read_to_string(&key_path) {
        Ok(pem) => rcgen::KeyPair::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("{} is not a private key: {e}", key_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = rcgen::KeyPair::generate()?;
            crate::crypto::write_private(&key_path, key.serialize_pem().as_bytes())?;
            let _ = std::fs::remove_file(&cert_path);
            key
        }
        Err(e) => return Err(e.into()),
    };
    let ca_params = ca_params(&ca_key);
    let ca_pem = match std::fs::read_to_string(&cert_path) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cert = ca_params.self_signed(&ca_key)?;
            std::fs::write(&cert_path, cert.pem())?;
            cert.pem()
        }
        Err(e) => return Err(e.into()),
    };
    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("{} is not a certificate: {e}", cert_path.display()))?;
    let pin = CaPin::of_der(&ca_der);
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    for name in names {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => rcgen::SanType::DnsName(name.clone().try_into()?),
        };
        if !params.subject_alt_names.contains(&san) {
            params.subject_alt_names.push(san);
        }
    }
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Eyrie cloud");
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(397);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let leaf_key = rcgen::KeyPair::generate()?;
    let leaf = params.signed_by(&leaf_key, &issuer)?;
    std::fs::write(dir.join("server.pem"), format!("{}{ca_pem}", leaf.pem()))?;
    let chain = vec![leaf.der().clone(), ca_der.into_owned()];
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der())
        .map_err(|e| anyhow::anyhow!("server key: {e}"))?;
    Ok(Tls {
        acceptor: TlsAcceptor::from(server_config(chain, key)?),
        ca: Some((ca_pem, pin)),
    })
}

/// The CA's parameters, rebuilt from its key (the name carries a digest of the public
/// key, so the issuer of every server certificate matches the stored CA certificate).
fn ca_params(key: &rcgen::KeyPair) -> rcgen::CertificateParams {
    use sha2::Digest as _;
    let id = hex::encode(&sha2::Sha256::digest(key.public_key_raw())[..6]);
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, format!("Eyrie cloud CA {id}"));
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    p
}

/// Names for the server certificate: the public host, the address bound (or, bound to
/// every address, this host's addresses and name), and loopback.
pub fn certificate_names(listen: IpAddr, public_host: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: String| {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    };
    if let Some(h) = public_host {
        add(h.trim_start_matches('[').trim_end_matches(']').to_owned());
    }
    if listen.is_unspecified() {
        for ip in local_addresses() {
            add(ip.to_string());
        }
        if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
            let h = h.trim();
            if !h.is_empty() && h.parse::<IpAddr>().is_err() {
                add(h.to_owned());
                add(format!("{h}.local"));
            }
        }
    } else {
        add(listen.to_string());
    }
    add("localhost".into());
    add("127.0.0.1".into());
    add("::1".into());
    names
}

/// This host's interface addresses, loopback and link-local excepted.
pub fn local_addresses() -> Vec<IpAddr> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| {
            !ip.is_loopback()
                && match ip {
                    IpAddr::V4(v4) => !v4.is_link_local(),
                    IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
                }
        })
        .collect()
}

/// A connection that is TLS or, on loopback without TLS, plain.
pub type MaybeTls = Either<TcpStream, TlsStream<TcpStream>>;

/// The API's listener: accepts, does the TLS handshake on its own task, and yields the
/// finished connections.
pub struct TlsListener {
    rx: mpsc::Receiver<(MaybeTls, SocketAddr)>,
    local: SocketAddr,
    _task: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TlsListener {
    pub fn new(listener: TcpListener, tls: Option<Tls>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(accept_each(listener, move |tcp, peer| {
            let tx = tx.clone();
            let tls = tls.clone();
            async move {
                if let Some(io) = accept(tcp, tls.as_ref(), peer).await {
                    let _ = tx.send((io, peer)).await;
                }
            }
        }));
        Ok(Self {
            rx,
            local,
            _task: AbortOnDrop(task),
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = MaybeTls;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task ended only if the runtime is going away.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The TLS handshake (when TLS is on), with a time limit; None when it failed.
pub async fn accept(tcp: TcpStream, tls: Option<&Tls>, peer: SocketAddr) -> Option<MaybeTls> {
    let Some(tls) = tls else {
        return Some(Either::Left(tcp));
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(Either::Right(s)),
        Ok(Err(e)) => {
            tracing::debug!(%peer, "TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// Accept connections forever and hand each (no Nagle) to its own task.
async fn accept_each<F, Fut>(listener: TcpListener, mut serve: F)
where
    F: FnMut(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                tokio::spawn(serve(tcp, peer));
            }
            Err(e) => {
                tracing::warn!("accept on {:?}: {e}", listener.local_addr().ok());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
