//! The embedded object store: s3s + s3s-fs serving one bucket from
//! `<data-dir>/objects/<bucket>/` (TLS off loopback, see [`crate::tls`]), with SigV4 (headers and presigned
//! query strings, expiry included) checked by s3s against credentials generated on first
//! start and kept in `<data-dir>/s3-credentials.json` (mode 0600). Uploads that announce a
//! checksum are checked before they replace anything ([`super::verify`]).
//!
//! Reads answer `Access-Control-Allow-Origin: *` ([`Cors`]) so the web viewer
//! (`docs/web-viewer.md`), served by the API on another port, can fetch the presigned GETs
//! it is handed: a presigned URL is itself the credential, no cookie is involved.
//!
//! ```text
//!  TcpListener ─► hyper-util auto (HTTP/1.1) ─► Cors ─► S3Service { SimpleAuth, Verified(FileSystem) }
//! ```

use std::net::SocketAddr;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::S3Settings;

/// The bucket the embedded store serves.
pub const BUCKET: &str = "eyrie";
/// SigV4 region of the embedded store.
pub const REGION: &str = "us-east-1";

#[derive(Serialize, Deserialize)]
struct Keys {
    access_key: String,
    secret_key: String,
}

fn load_or_create_keys(dir: &Path) -> anyhow::Result<Keys> {
    let path = dir.join("s3-credentials.json");
    match std::fs::read(&path) {
        Ok(raw) => Ok(serde_json::from_slice(&raw)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keys = Keys {
                access_key: format!("EYRIE{}", crate::crypto::random_token(12).to_uppercase()),
                secret_key: crate::crypto::random_token(30),
            };
            crate::crypto::write_private(&path, &serde_json::to_vec_pretty(&keys)?)?;
            Ok(keys)
        }
        Err(e) => Err(e.into()),
    }
}

/// Start serving on `listen` (TLS when `tls` is given) and return the bound address and
/// the settings the cloud's own calls use. With TLS the cloud's own calls go to a second,
/// plain listener on a loopback port, so they need no certificate that names 127.0.0.1.
pub async fn start(
    data_dir: &Path,
    listen: SocketAddr,
    tls: Option<crate::tls::Tls>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, S3Settings)> {
    let keys = load_or_create_keys(data_dir)?;
    let root = data_dir.join("objects");
    std::fs::create_dir_all(root.join(BUCKET))?;
    let fs = s3s_fs::FileSystem::new(&root).map_err(|e| anyhow::anyhow!("object store: {e:?}"))?;
    let service = {
        let mut b = S3ServiceBuilder::new(super::verify::Verified(fs));
        b.set_auth(SimpleAuth::from_single(
            keys.access_key.clone(),
            keys.secret_key.clone(),
        ));
        b.build()
    };
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("object store: cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    let internal = if tls.is_some() {
        let inner = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let inner_addr = inner.local_addr()?;
        tokio::spawn(serve(inner, None, service.clone(), stop.clone()));
        inner_addr
    } else {
        addr
    };
    tokio::spawn(serve(listener, tls, service, stop));
    let endpoint: url::Url = format!("http://{internal}").parse()?;
    Ok((
        addr,
        S3Settings {
            endpoint,
            public_endpoint: None,
            bucket: BUCKET.into(),
            region: REGION.into(),
            access_key: keys.access_key,
            secret_key: keys.secret_key,
            virtual_host: false,
        },
    ))
}

async fn serve(
    listener: TcpListener,
    tls: Option<crate::tls::Tls>,
    service: s3s::service::S3Service,
    mut stop: watch::Receiver<bool>,
) {
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let (socket, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => { tracing::warn!("object store accept: {e}"); continue; }
            },
            _ = stop.changed() => break,
        };
        let http = http.clone();
        let service = service.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let Some(io) = crate::tls::accept(socket, tls.as_ref(), peer).await else {
                return;
            };
            let _ = http
                .serve_connection(TokioIo::new(io), Cors(service))
                .into_owned()
                .await;
        });
    }
}

/// The store's service with `Access-Control-Allow-Origin: *` on the answers to `GET` and
/// `HEAD` (browsers send no preflight for a plain GET; uploads stay as they were).
#[derive(Clone)]
struct Cors(s3s::service::S3Service);

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Cors {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn call(&self, req: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        let read = matches!(*req.method(), hyper::Method::GET | hyper::Method::HEAD);
        let fut = hyper::service::Service::call(&self.0, req);
        Box::pin(async move {
            let mut resp = fut.await?;
            if read {
                resp.headers_mut().insert(
                    hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    hyper::header::HeaderValue::from_static("*"),
                );
            }
            Ok(resp)
        })
    }
}
