//! The object store as the cloud sees it: presigning, plus the few calls the cloud makes
//! itself (HEAD to check an upload, LIST for the reconciler, GET + multipart PUT to
//! assemble clips — or UploadPartCopy, so the bytes stay inside the store —, DELETE for
//! retention).
//!
//! Every request — the ones handed out and the ones the cloud makes — is a SigV4
//! presigned URL for one object and one method with a short expiry (`rusty-s3` for the
//! cloud's own calls, [`presign`] for the hot path of URLs handed to clients), sent
//! with reqwest. So one code path talks to the embedded s3s store, Garage and AWS alike.
//!
//! A client's upload URL is good for one body only: the slot request announces its size
//! and SHA-256, and both are signed into the PUT ([`Store::presign_put`]), so a replay —
//! even after `complete` — can only write the same bytes again. `complete` then HEADs
//! the object and compares size and (where the store reports it) checksum with the row.
//! URLs for clients are signed for the *public* endpoint (the host clients will use);
//! the cloud's own calls use the internal one.

mod batch;
pub mod embedded;
pub mod keys;
mod multipart;
pub mod presign;
pub mod verify;

use std::time::Duration;

use eyrie_protocol::api::PresignedUrl;
use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, Credentials, S3Action as _, UrlStyle};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::S3Settings;
use crate::public::PublicAddr;

fn presigner_for(endpoint: &url::Url, s: &S3Settings) -> Result<presign::Presigner, StoreError> {
    presign::Presigner::new(
        endpoint,
        &s.bucket,
        &s.region,
        &s.access_key,
        &s.secret_key,
        s.virtual_host,
    )
    .ok_or_else(|| StoreError::Config("store endpoint has no host".into()))
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("store answered {status} to {op}")]
    Status { op: &'static str, status: u16 },
    #[error("unreadable answer to {0}")]
    Parse(&'static str),
    #[error("bad store configuration: {0}")]
    Config(String),
}

/// `resp` when the store answered 200, else [`StoreError::Status`] naming `op`.
fn ok_200(resp: reqwest::Response, op: &'static str) -> Result<reqwest::Response, StoreError> {
    match resp.status().as_u16() {
        200 => Ok(resp),
        status => Err(StoreError::Status { op, status }),
    }
}

/// The header that carries an object's SHA-256 (base64), signed into upload URLs.
pub const CHECKSUM_SHA256: &str = "x-amz-checksum-sha256";

/// What HEAD tells of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    /// Present when the store keeps and reports the object's SHA-256 checksum.
    pub sha256: Option<[u8; 32]>,
}

/// One object in a listing.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: String,
    pub size: u64,
}

/// Presigner and client for one bucket.
#[derive(Clone)]
pub struct Store {
    internal: Bucket,
    /// For the cloud's own requests that sign an `x-amz-*` header (HEAD with checksum).
    internal_signer: Arc<presign::Presigner>,
    public: Public,
    creds: Credentials,
    http: reqwest::Client,
    ttl: Duration,
    bucket_name: String,
}

/// Where presigned URLs point.
#[derive(Clone)]
enum Public {
    /// One endpoint (an external store, or `--public-url`/a specific listen address).
    Fixed {
        endpoint: url::Url,
        presigner: Arc<presign::Presigner>,
    },
    /// The embedded store, at the host each client used to reach the cloud
    /// ([`crate::public`]); one presigner per host, a few kept.
    Follow {
        addr: PublicAddr,
        port: u16,
        settings: Arc<S3Settings>,
        cache: Arc<Mutex<HashMap<String, Arc<presign::Presigner>>>>,
    },
}

/// Hosts whose presigners are kept (a client may send any Host header).
const PRESIGNER_CACHE: usize = 16;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("endpoint", &self.endpoint().as_str())
            .finish()
    }
}

/// What the cloud's own calls may take.
const OWN_TTL: Duration = Duration::from_secs(120);

impl Store {
    /// `follow`: the embedded store's public port, presigned for the public address.
    pub fn new(
        s: &S3Settings,
        ttl: Duration,
        follow: Option<(PublicAddr, u16)>,
    ) -> Result<Self, StoreError> {
        let style = if s.virtual_host {
            UrlStyle::VirtualHost
        } else {
            UrlStyle::Path
        };
        let mk = |endpoint: &url::Url| {
            Bucket::new(endpoint.clone(), style, s.bucket.clone(), s.region.clone())
                .map_err(|e| StoreError::Config(e.to_string()))
        };
        let internal = mk(&s.endpoint)?;
        let public = match follow {
            Some((addr, port)) if addr.fixed_host.is_none() => Public::Follow {
                addr,
                port,
                settings: Arc::new(s.clone()),
                cache: Arc::default(),
            },
            Some((addr, port)) => {
                let endpoint: url::Url = addr
                    .url(port)
                    .parse()
                    .map_err(|e| StoreError::Config(format!("public store address: {e}")))?;
                Public::Fixed {
                    presigner: Arc::new(presigner_for(&endpoint, s)?),
                    endpoint,
                }
            }
            None => {
                let endpoint = s.public_endpoint.as_ref().unwrap_or(&s.endpoint).clone();
                Public::Fixed {
                    presigner: Arc::new(presigner_for(&endpoint, s)?),
                    endpoint,
                }
            }
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(16)
            .build()?;
        Ok(Self {
            internal,
            internal_signer: Arc::new(presigner_for(&s.endpoint, s)?),
            public,
            creds: Credentials::new(s.access_key.clone(), s.secret_key.clone()),
            http,
            ttl,
            bucket_name: s.bucket.clone(),
        })
    }

    /// The presigner for the client being served.
    fn presigner(&self) -> Arc<presign::Presigner> {
        match &self.public {
            Public::Fixed { presigner, .. } => presigner.clone(),
            Public::Follow {
                addr,
                port,
                settings,
                cache,
            } => {
                let host = addr.host();
                let mut cache = cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(p) = cache.get(&host) {
                    return p.clone();
                }
                let made = format!("{}://{host}:{port}", addr.scheme)
                    .parse()
                    .ok()
                    .and_then(|endpoint: url::Url| presigner_for(&endpoint, settings).ok());
                // The host came from a valid Host header, so this does not fail; if it
                // did, the first address this cloud knows is the best remaining answer.
                let p = Arc::new(made.unwrap_or_else(|| {
                    let fallback: url::Url =
                        PublicAddr::new(addr.scheme == "https", None, [0, 0, 0, 0].into())
                            .url(*port)
                            .parse()
                            .expect("an address of this host is a valid URL");
                    presigner_for(&fallback, settings).expect("a URL with a host")
                }));
                if cache.len() >= PRESIGNER_CACHE {
                    cache.clear();
                }
                cache.insert(host, p.clone());
                p
            }
        }
    }

    /// The endpoint clients reach (for the client being served, if any).
    pub fn endpoint(&self) -> url::Url {
        match &self.public {
            Public::Fixed { endpoint, .. } => endpoint.clone(),
            Public::Follow { addr, port, .. } => addr
                .url(*port)
                .parse()
                .unwrap_or_else(|_| self.internal.base_url().clone()),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket_name
    }

    fn presign(&self, method: &'static str, key: &str) -> PresignedUrl {
        let now = time::OffsetDateTime::now_utc();
        let url = self.presigner().sign(method, key, self.ttl.as_secs(), now);
        crate::metrics::PRESIGNED.inc();
        PresignedUrl {
            method: method.into(),
            url,
            expires_at: now.unix_timestamp() + self.ttl.as_secs() as i64,
            headers: Default::default(),
        }
    }

    /// Presigned GET of one object for clients.
    pub fn presign_get(&self, key: &str) -> PresignedUrl {
        self.presign("GET", key)
    }

    /// Presigned GETs of many objects with one time and expiry (listings): the constant
    /// parts of the signature are computed once.
    pub fn get_signer(&self) -> impl Fn(&str) -> PresignedUrl + '_ {
        let now = time::OffsetDateTime::now_utc();
        let batch = self.presigner().batch("GET", self.ttl.as_secs(), now);
        let expires_at = now.unix_timestamp() + self.ttl.as_secs() as i64;
        move |key| {
            crate::metrics::PRESIGNED.inc();
            PresignedUrl {
                method: "GET".into(),
                url: batch.sign(key),
                expires_at,
                headers: Default::default(),
            }
        }
    }

    /// Presigned PUT of one object for clients, good only for a body of `size` bytes whose
    /// SHA-256 is `sha256` (raw): both are signed in as `content-length` and
    /// `x-amz-checksum-sha256`, which the client must send as [`PresignedUrl::headers`]
    /// gives them, and the store checks the body against the checksum.
    pub fn presign_put(&self, key: &str, size: u64, sha256: &[u8; 32]) -> PresignedUrl {
        use base64::Engine as _;
        let now = time::OffsetDateTime::now_utc();
        let len = size.to_string();
        let sum = base64::engine::general_purpose::STANDARD.encode(sha256);
        let signed = [
            ("content-length", len.as_str()),
            (CHECKSUM_SHA256, sum.as_str()),
        ];
        let url = self
            .presigner()
            .sign_with("PUT", key, self.ttl.as_secs(), now, &signed);
        crate::metrics::PRESIGNED.inc();
        PresignedUrl {
            method: "PUT".into(),
            url,
            expires_at: now.unix_timestamp() + self.ttl.as_secs() as i64,
            headers: signed
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// Size of an object, None when absent.
    pub async fn head(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.head_object(key).await?.map(|h| h.size))
    }

    /// Size and, when the store reports it, SHA-256 of an object; None when absent.
    pub async fn head_object(&self, key: &str) -> Result<Option<Head>, StoreError> {
        use base64::Engine as _;
        // Stores that check presigned URLs strictly (Garage) want every x-amz-* header
        // signed, so the checksum mode is.
        const MODE: (&str, &str) = ("x-amz-checksum-mode", "ENABLED");
        let url = self.internal_signer.sign_with(
            "HEAD",
            key,
            OWN_TTL.as_secs(),
            time::OffsetDateTime::now_utc(),
            &[MODE],
        );
        let resp = self.http.head(url).header(MODE.0, MODE.1).send().await?;
        match resp.status().as_u16() {
            200 => {
                let header = |name| resp.headers().get(name).and_then(|v| v.to_str().ok());
                let size = header(reqwest::header::CONTENT_LENGTH.as_str())
                    .and_then(|v| v.parse().ok())
                    .ok_or(StoreError::Parse("HEAD without Content-Length"))?;
                let sha256 = header(CHECKSUM_SHA256)
                    .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
                    .and_then(|v| <[u8; 32]>::try_from(v).ok());
                Ok(Some(Head { size, sha256 }))
            }
            404 => Ok(None),
            status => Err(StoreError::Status { op: "HEAD", status }),
        }
    }

    /// Delete an object (absent is fine).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let url = self
            .internal
            .delete_object(Some(&self.creds), key)
            .sign(OWN_TTL);
        let resp = self.http.delete(url).send().await?;
        match resp.status().as_u16() {
            200..=299 | 404 => Ok(()),
            status => Err(StoreError::Status {
                op: "DELETE",
                status,
            }),
        }
    }

    /// One page (at most `max` keys) of the objects under `prefix`.
    pub async fn list(&self, prefix: &str, max: usize) -> Result<Vec<Listed>, StoreError> {
        let mut action = self.internal.list_objects_v2(Some(&self.creds));
        action.with_prefix(prefix);
        action.with_max_keys(max);
        let url = action.sign(OWN_TTL);
        let resp = ok_200(self.http.get(url).send().await?, "LIST")?;
        let text = resp.text().await?;
        let parsed = ListObjectsV2::parse_response(&text).map_err(|_| StoreError::Parse("LIST"))?;
        Ok(parsed
            .contents
            .into_iter()
            .map(|c| Listed {
                key: c.key,
                size: c.size.unwrap_or(0),
            })
            .collect())
    }

    /// GET an object as a streaming response.
    pub async fn get(&self, key: &str) -> Result<reqwest::Response, StoreError> {
        let url = self
            .internal
            .get_object(Some(&self.creds), key)
            .sign(OWN_TTL);
        ok_200(self.http.get(url).send().await?, "GET")
    }

    /// PUT a whole object.
    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        let url = self
            .internal
            .put_object(Some(&self.creds), key)
            .sign(OWN_TTL);
        let resp = self.http.put(url).body(body).send().await?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            status => Err(StoreError::Status { op: "PUT", status }),
        }
    }

    /// Check that the bucket answers; create it when missing (the embedded store needs no
    /// creation, Garage's `--default-bucket` neither).
    pub async fn check(&self) -> Result<(), StoreError> {
        self.list("", 1).await.map(|_| ())
    }
}
