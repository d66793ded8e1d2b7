//! The client itself: trust, URLs, sending, checking answers, repeating, presigned URLs.
//! The endpoints are in [`crate::user`] and [`crate::device`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eyrie_protocol::api::{API_PREFIX, ErrorBody, ErrorCode, PresignedUrl};
use eyrie_protocol::trust::{CloudLink, TrustError};
use futures::TryStreamExt as _;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncReadExt as _;

use crate::{ApiError, Retry, RetryPolicy};

/// How long one API call or presigned GET may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one cloud, with one optional bearer token (a user session or a device
/// token). Cheap to clone: clones share the connection pool and the settled trust.
#[derive(Debug, Clone)]
pub struct ApiClient {
    trusted: Arc<tokio::sync::OnceCell<Trusted>>,
    link: Result<CloudLink, TrustError>,
    base: String,
    token: Option<String>,
    retry: RetryPolicy,
    /// This installation's viewer key: opens content keys ([`ApiClient::recording_keys`]).
    viewer: Option<Arc<eyrie_protocol::e2e::viewer::ViewerKeys>>,
}

/// The HTTP client once trust is settled, and the CA it trusts (for the broker too).
#[derive(Debug)]
struct Trusted {
    http: reqwest::Client,
    ca_pem: Option<Vec<u8>>,
}

/// Who answers a request, for the error it becomes.
#[derive(Clone, Copy)]
enum Answerer {
    Cloud,
    Store,
}

impl ApiClient {
    /// `link` is the cloud link, e.g. `https://192.168.1.5:8470#ca=sha256:…` or
    /// `http://127.0.0.1:8470`. A bad link fails every call with [`ApiError::Trust`].
    pub fn new(link: impl Into<String>) -> Self {
        let text: String = link.into();
        let link = text.parse::<CloudLink>();
        let base = match &link {
            Ok(l) => l.base().to_owned(),
            Err(_) => text.trim_end_matches('/').to_owned(),
        };
        Self {
            trusted: Arc::default(),
            link,
            base,
            token: None,
            retry: RetryPolicy::default(),
            viewer: None,
        }
    }

    /// A client of `link` that trusts `ca_pem` (a CA checked earlier and kept, e.g. with
    /// the session) without asking the cloud for it again.
    pub fn with_ca(link: impl Into<String>, ca_pem: Option<Vec<u8>>) -> Self {
        let c = Self::new(link);
        if let Ok(http) = build(ca_pem.as_deref()) {
            let _ = c.trusted.set(Trusted { http, ca_pem });
        }
        c
    }

    /// A client of `link` sending through `http`, which the caller already made trust the
    /// right CA (the camera: the CA kept at pairing, or its `--ca-file`). The plain rule is
    /// checked now. [`ApiClient::ca_pem`] answers None: the caller knows its CA.
    pub fn with_http(link: &CloudLink, http: reqwest::Client) -> Result<Self, ApiError> {
        link.check()?;
        let c = Self {
            trusted: Arc::default(),
            link: Ok(link.clone()),
            base: link.base().to_owned(),
            token: None,
            retry: RetryPolicy::default(),
            viewer: None,
        };
        let _ = c.trusted.set(Trusted { http, ca_pem: None });
        Ok(c)
    }

    /// The same client acting with `token` (session or device token).
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The same client repeating failed requests by `policy` instead of
    /// [`RetryPolicy::REQUESTS`].
    pub fn with_retry(&self, policy: RetryPolicy) -> Self {
        Self {
            retry: policy,
            ..self.clone()
        }
    }

    /// The same client opening content keys with `keys` (a viewer installation's).
    pub fn with_viewer_keys(&self, keys: Arc<eyrie_protocol::e2e::viewer::ViewerKeys>) -> Self {
        Self {
            viewer: Some(keys),
            ..self.clone()
        }
    }

    /// The viewer key this client opens content keys with.
    pub fn viewer_keys(&self) -> Option<&eyrie_protocol::e2e::viewer::ViewerKeys> {
        self.viewer.as_deref()
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// `scheme://host:port` of the cloud (without the pin).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The cloud link (with its pin, if any).
    pub fn link(&self) -> String {
        match &self.link {
            Ok(l) => l.to_string(),
            Err(_) => self.base.clone(),
        }
    }

    /// The URL of an API path (`/devices/…`, under [`API_PREFIX`]): the one place URLs
    /// are made.
    pub fn url(&self, path: &str) -> String {
        format!("{}{API_PREFIX}{path}", self.base)
    }

    async fn trusted(&self) -> Result<&Trusted, ApiError> {
        self.trusted
            .get_or_try_init(|| async {
                let link = self.link.clone()?;
                link.check()?;
                let ca_pem = eyrie_rtc::trust::fetch_ca(&link).await?;
                let http = build(ca_pem.as_deref())?;
                Ok::<_, ApiError>(Trusted { http, ca_pem })
            })
            .await
    }

    /// The HTTP client, once trust is settled (the link checked, its CA fetched).
    pub async fn http(&self) -> Result<&reqwest::Client, ApiError> {
        Ok(&self.trusted().await?.http)
    }

    /// The CA this client trusts (PEM; None: the system's roots), settling trust first.
    /// The broker is checked against the same CA.
    pub async fn ca_pem(&self) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(self.trusted().await?.ca_pem.clone())
    }

    // ── sending ──

    /// Send `rb`, repeating it by the policy while it fails with [`Retry::Soon`] and
    /// `repeat` says doing it twice is harmless.
    async fn execute(
        &self,
        rb: reqwest::RequestBuilder,
        repeat: bool,
        who: Answerer,
    ) -> Result<reqwest::Response, ApiError> {
        let mut backoff = self.retry.backoff();
        let mut attempt = 1;
        loop {
            let spare = if repeat && attempt < self.retry.attempts {
                rb.try_clone()
            } else {
                None
            };
            let Some(this) = spare else {
                return answer(rb.send().await?, who).await;
            };
            let result = match this.send().await {
                Ok(resp) => answer(resp, who).await,
                Err(e) => Err(e.into()),
            };
            match result {
                Err(e) if e.retry() == Retry::Soon => {
                    let wait = backoff.next_delay();
                    tracing::debug!(%e, attempt, wait_ms = wait.as_millis() as u64, "repeating");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Call the API: `method path` with an optional JSON body; idempotent methods (and
    /// `repeat`: a POST that is harmless twice) are repeated by the policy.
    pub(crate) async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        repeat: bool,
    ) -> Result<reqwest::Response, ApiError> {
        self.call_url(method, self.url(path), body, repeat).await
    }

    /// [`ApiClient::call`] with a whole URL of the cloud (`/healthz` is not under the
    /// prefix).
    pub(crate) async fn call_url<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: String,
        body: Option<&B>,
        repeat: bool,
    ) -> Result<reqwest::Response, ApiError> {
        let repeat = repeat || method.is_idempotent();
        let mut rb = self
            .http()
            .await?
            .request(method, url)
            .timeout(CALL_TIMEOUT);
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        self.execute(rb, repeat, Answerer::Cloud).await
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let resp = self.call::<()>(Method::GET, path, None, false).await?;
        Ok(resp.json().await?)
    }

    pub(crate) async fn json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let resp = self.call(method, path, Some(body), false).await?;
        Ok(resp.json().await?)
    }

    pub(crate) async fn empty(&self, method: Method, path: &str) -> Result<(), ApiError> {
        self.call::<()>(method, path, None, false).await.map(drop)
    }

    // ── presigned URLs (no Authorization header; the plain rule applies to them too) ──

    async fn presigned(
        &self,
        method: Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        eyrie_protocol::trust::check_plain(url)?;
        Ok(self.http().await?.request(method, url))
    }

    /// The headers signed into `url` (an upload's checksum), on `rb`. `Content-Length` is
    /// signed too but comes from the body itself.
    fn signed_headers(rb: reqwest::RequestBuilder, url: &PresignedUrl) -> reqwest::RequestBuilder {
        url.headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
            .fold(rb, |rb, (name, value)| rb.header(name, value))
    }

    /// PUT `body` to a presigned URL, with the headers signed into it: an upload URL
    /// takes only the body its slot was asked for (size and SHA-256).
    pub async fn put_presigned(&self, url: &PresignedUrl, body: Vec<u8>) -> Result<(), ApiError> {
        let rb = Self::signed_headers(self.presigned(Method::PUT, &url.url).await?, url);
        self.execute(rb.timeout(CALL_TIMEOUT).body(body), true, Answerer::Store)
            .await
            .map(drop)
    }

    /// PUT the file at `path` to a presigned URL, streamed from disk in 64 KiB reads with
    /// its exact length (the store needs no chunked encoding). Not repeated here: a
    /// stream cannot be sent twice, the caller starts over.
    pub async fn put_presigned_file(
        &self,
        url: &PresignedUrl,
        path: &Path,
        content_type: &str,
    ) -> Result<(), ApiError> {
        let file_err = |source| ApiError::File {
            path: path.to_owned(),
            source,
        };
        let rb = Self::signed_headers(self.presigned(Method::PUT, &url.url).await?, url);
        let file = tokio::fs::File::open(path).await.map_err(file_err)?;
        let len = file.metadata().await.map_err(file_err)?.len();
        let stream = futures::stream::try_unfold(file, |mut f| async move {
            let mut buf = vec![0u8; 64 * 1024];
            let n = f.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            buf.truncate(n);
            Ok(Some((bytes::Bytes::from(buf), f)))
        });
        let rb = rb
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(reqwest::Body::wrap_stream(
                stream.map_err(std::io::Error::other),
            ))
            .timeout(Duration::from_secs(60 + len / (64 * 1024)));
        self.execute(rb, false, Answerer::Store).await.map(drop)
    }

    /// The bytes behind a presigned GET.
    pub async fn get_presigned(&self, url: &PresignedUrl) -> Result<Vec<u8>, ApiError> {
        let rb = self.presigned(Method::GET, &url.url).await?;
        let resp = self
            .execute(rb.timeout(CALL_TIMEOUT), true, Answerer::Store)
            .await?;
        Ok(resp.bytes().await?.to_vec())
    }

    /// `len` bytes at `offset` of the object behind a presigned GET (an HTTP range
    /// request; a store that ignores the range still yields the right bytes).
    pub async fn get_presigned_range(
        &self,
        url: &PresignedUrl,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, ApiError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let rb = self.presigned(Method::GET, &url.url).await?.header(
            reqwest::header::RANGE,
            format!("bytes={offset}-{}", offset + len - 1),
        );
        let resp = self
            .execute(rb.timeout(CALL_TIMEOUT), true, Answerer::Store)
            .await?;
        let partial = resp.status() == StatusCode::PARTIAL_CONTENT;
        let body = resp.bytes().await?;
        if partial {
            return Ok(body.to_vec());
        }
        let (a, b) = (offset as usize, (offset + len) as usize);
        body.get(a..b)
            .map(<[u8]>::to_vec)
            .ok_or(ApiError::Store(416))
    }
}

/// A reqwest client that trusts only `ca_pem` (None: the system's roots) and follows no
/// redirects.
fn build(ca_pem: Option<&[u8]>) -> Result<reqwest::Client, ApiError> {
    Ok(eyrie_rtc::trust::http_builder(ca_pem)?.build()?)
}

/// A 2xx answer as it is; anything else as the error of whoever answered.
async fn answer(resp: reqwest::Response, who: Answerer) -> Result<reqwest::Response, ApiError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    if let Answerer::Store = who {
        return Err(ApiError::Store(status.as_u16()));
    }
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(ErrorBody {
        code: ErrorCode::Unknown,
        message: text.chars().take(200).collect(),
    });
    Err(ApiError::Status {
        status: status.as_u16(),
        body,
    })
}
