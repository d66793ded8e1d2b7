//! The retry policy against a real HTTP server on loopback that fails a set number of
//! times before it answers: what the client repeats, how often, how long it waits, and
//! what it never repeats.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use eyrie_api::{ApiClient, ApiError, Retry, RetryPolicy};
use eyrie_protocol::api::PresignedUrl;

/// A server whose every route fails with `status` for its first `failures` requests,
/// then answers; it counts the requests it saw.
struct Flaky {
    failures: u32,
    status: StatusCode,
    seen: AtomicU32,
}

impl Flaky {
    fn hit(&self, ok: impl IntoResponse) -> Response {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if n < self.failures {
            let body = r#"{"code":"unavailable","message":"not now"}"#;
            (self.status, [("content-type", "application/json")], body).into_response()
        } else {
            ok.into_response()
        }
    }
}

async fn devices(State(f): State<Arc<Flaky>>) -> Response {
    f.hit(([("content-type", "application/json")], r#"{"devices":[]}"#))
}

async fn create(State(f): State<Arc<Flaky>>) -> Response {
    f.hit(StatusCode::CREATED)
}

async fn object(State(f): State<Arc<Flaky>>) -> Response {
    f.hit(b"the object".to_vec())
}

async fn serve(failures: u32, status: StatusCode) -> (String, Arc<Flaky>) {
    let flaky = Arc::new(Flaky {
        failures,
        status,
        seen: AtomicU32::new(0),
    });
    let app = Router::new()
        .route("/api/v1/devices", get(devices).post(create))
        .route("/bucket/object", get(object))
        .with_state(flaky.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), flaky)
}

const QUICK: RetryPolicy = RetryPolicy {
    attempts: 4,
    initial: Duration::from_millis(40),
    max: Duration::from_millis(100),
};

fn client(base: &str) -> ApiClient {
    ApiClient::new(base).with_token("t").with_retry(QUICK)
}

#[tokio::test]
async fn a_read_is_repeated_until_the_cloud_answers_with_backoff() {
    let (base, flaky) = serve(3, StatusCode::SERVICE_UNAVAILABLE).await;
    let t0 = Instant::now();
    let list = client(&base)
        .devices()
        .await
        .expect("the fourth try answers");
    assert!(list.devices.is_empty());
    assert_eq!(flaky.seen.load(Ordering::SeqCst), 4);
    // Waits of at least 20, 40 and 50 ms (each drawn from [d/2, d], d = 40, 80, 100).
    assert!(
        t0.elapsed() >= Duration::from_millis(110),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn the_client_gives_up_after_its_attempts() {
    let (base, flaky) = serve(10, StatusCode::SERVICE_UNAVAILABLE).await;
    let err = client(&base).devices().await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    assert_eq!(err.retry(), Retry::Soon);
    assert_eq!(flaky.seen.load(Ordering::SeqCst), QUICK.attempts);

    let (base, flaky) = serve(10, StatusCode::TOO_MANY_REQUESTS).await;
    let once = client(&base).with_retry(RetryPolicy::ONCE);
    assert!(once.devices().await.is_err());
    assert_eq!(flaky.seen.load(Ordering::SeqCst), 1, "ONCE sends once");
}

#[tokio::test]
async fn a_refusal_is_never_repeated() {
    let (base, flaky) = serve(10, StatusCode::NOT_FOUND).await;
    let err = client(&base).devices().await.unwrap_err();
    assert!(matches!(err, ApiError::Status { status: 404, .. }), "{err}");
    assert_eq!(err.retry(), Retry::Never);
    assert_eq!(flaky.seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_post_that_creates_is_not_repeated_by_the_client() {
    let (base, flaky) = serve(1, StatusCode::SERVICE_UNAVAILABLE).await;
    let err = client(&base).create_device("porch").await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        flaky.seen.load(Ordering::SeqCst),
        1,
        "the caller starts over"
    );
}

#[tokio::test]
async fn a_presigned_download_is_repeated_and_the_store_says_so_in_its_error() {
    let (base, flaky) = serve(2, StatusCode::BAD_GATEWAY).await;
    let url = PresignedUrl {
        url: format!("{base}/bucket/object"),
        method: "GET".into(),
        expires_at: 0,
        headers: Default::default(),
    };
    let api = client(&base);
    assert_eq!(api.get_presigned(&url).await.unwrap(), b"the object");
    assert_eq!(flaky.seen.load(Ordering::SeqCst), 3);

    // An expired URL (the store's 403): the same URL will not do, the caller needs a new
    // one — reported at once, marked for later.
    let (base, flaky) = serve(10, StatusCode::FORBIDDEN).await;
    let url = PresignedUrl {
        url: format!("{base}/bucket/object"),
        ..url
    };
    let err = api.get_presigned(&url).await.unwrap_err();
    assert!(matches!(err, ApiError::Store(403)), "{err}");
    assert_eq!(err.retry(), Retry::Later);
    assert_eq!(flaky.seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_connection_is_repeated_then_reported() {
    // A port nobody listens on: bind, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t0 = Instant::now();
    let err = client(&format!("http://127.0.0.1:{port}"))
        .devices()
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Http(_)), "{err}");
    assert_eq!(err.retry(), Retry::Soon);
    assert!(
        t0.elapsed() >= Duration::from_millis(110),
        "it waited between tries"
    );
}

#[tokio::test]
async fn plain_http_off_loopback_is_refused_before_sending() {
    let api = ApiClient::new("http://192.0.2.1:8470");
    let err = api.devices().await.unwrap_err();
    assert!(matches!(err, ApiError::Trust(_)), "{err}");
    assert_eq!(err.retry(), Retry::Never);
    // Presigned URLs too, even from a client of a loopback cloud.
    let (base, _) = serve(0, StatusCode::OK).await;
    let url = PresignedUrl {
        url: "http://192.0.2.1:3900/bucket/object".into(),
        method: "GET".into(),
        expires_at: 0,
        headers: Default::default(),
    };
    let err = client(&base).get_presigned(&url).await.unwrap_err();
    assert!(matches!(err, ApiError::Trust(_)), "{err}");
}
