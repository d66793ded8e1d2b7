//! The embedded object store: s3s + s3s-fs serving one bucket from
//! `<data-dir>/objects/<bucket>/` on a loopback port, with SigV4 (headers and presigned
//! query strings, expiry included) checked by s3s against credentials generated on first
//! start and kept in `<data-dir>/s3-credentials.json` (mode 0600).
//!
//! ```text
//!  TcpListener ─► hyper-util auto (HTTP/1.1) ─► S3Service { SimpleAuth, FileSystem }
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

/// Start serving; returns the settings clients and the cloud use to reach it.
pub async fn start(
    data_dir: &Path,
    listen: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, S3Settings)> {
    let keys = load_or_create_keys(data_dir)?;
    let root = data_dir.join("objects");
    std::fs::create_dir_all(root.join(BUCKET))?;
    let fs = s3s_fs::FileSystem::new(&root).map_err(|e| anyhow::anyhow!("object store: {e:?}"))?;
    let service = {
        let mut b = S3ServiceBuilder::new(fs);
        b.set_auth(SimpleAuth::from_single(
            keys.access_key.clone(),
            keys.secret_key.clone(),
        ));
        b.build()
    };
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let socket = tokio::select! {
                r = listener.accept() => match r {
                    Ok((s, _)) => s,
                    Err(e) => { tracing::warn!("object store accept: {e}"); continue; }
                },
                _ = stop.changed() => break,
            };
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    let endpoint: url::Url = format!("http://{addr}").parse()?;
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
