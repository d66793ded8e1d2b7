//! Eyrie's one client of the cloud REST API (`docs/api.md`): the app, the camera and the
//! tests all speak to the cloud through [`ApiClient`].
//!
//! ## Design
//!
//! One type, two halves. [`ApiClient`] holds a cloud link, the settled trust and one
//! optional bearer token; which half of the API it speaks depends only on that token.
//! The **user half** ([`user`]: accounts, devices, tickets, recordings, events, clips,
//! snapshots) is what the app and the tests call with a session token; the **device
//! half** ([`device`]: pairing, activation, heartbeat, upload slots and notices, events,
//! snapshot upload) is what the camera calls, first without a token, then with its
//! device token — [`DeviceClient`] binds that token and the device id. Everything else
//! lives once, in [`transport`]:
//!
//! ```text
//!  app (gui::cloud) ─┐                        ┌─ user.rs   ─┐
//!  camera (setup,    ├─► ApiClient ───────────┤             ├─► transport.rs ─► reqwest ─► cloud
//!   storage)         │   DeviceClient ────────┴─ device.rs ─┘     url · trust · answer ·   └► store
//!  tests, benches ───┘                                            retry · presigned           (presigned)
//! ```
//!
//! **Trust.** The client is made from a cloud link (`https://host:8470#ca=sha256:…`, or
//! a plain `http://` URL on loopback). Before its first request it checks the plain rule
//! and, for a pinned link, fetches and checks the cloud's CA ([`eyrie_rtc::trust`]); from
//! then on every request — API and presigned URLs — trusts that CA and no other, and
//! follows no redirect. A presigned URL is checked against the plain rule too, so a
//! tampered one cannot make anyone upload or download in the clear. A client can also be
//! given a CA checked earlier ([`ApiClient::with_ca`]) or an HTTP client the caller made
//! trust the right CA ([`ApiClient::with_http`], the camera).
//!
//! **URLs.** [`ApiClient::url`] is the only place an API URL is made: the link's
//! `scheme://host:port`, [`eyrie_protocol::api::API_PREFIX`], the endpoint's path.
//!
//! **Errors.** One [`ApiError`]: no answer ([`ApiError::Http`]), the cloud's error body
//! ([`ApiError::Status`]), the store's refusal ([`ApiError::Store`]), trust
//! ([`ApiError::Trust`]), and the two local ones (a CA file, a file to upload).
//!
//! **Retrying.** [`ApiError::retry`] sorts every failure once, for every caller:
//!
//! | [`Retry`] | failures | who tries again |
//! |---|---|---|
//! | `Soon` | connection refused or cut; 408, 425, 429, 502, 503, 504 | this client, at once |
//! | `Later` | timeouts; 500; the cloud's 401, 403, 409; the store's 400, 401, 403, 409, 5xx (an expired presigned URL) | the caller, from the start |
//! | `Never` | any other 4xx from the cloud; trust; a bad CA file | nobody: it is reported |
//!
//! The client repeats a request that failed with `Soon` by its [`RetryPolicy`] (by
//! default [`RetryPolicy::REQUESTS`]: three tries, waits of 250 ms then 500 ms, jittered),
//! but only when doing it twice is harmless: GET, PUT and DELETE, presigned GETs and PUTs
//! of bytes, and the two POSTs that are idempotent by contract (heartbeat, activate).
//! POSTs that create something (an upload slot, an event, a clip) are not repeated by
//! the client: the caller starts over, as the camera's uploader does with the same
//! [`Backoff`] (doubling from its initial wait to its cap, each wait drawn from
//! `[d/2, d]`), so that a house of cameras coming back on line does not retry in step.
//! A timeout is `Later`, not `Soon`, so a person waits at most one call's 30 s for an
//! answer, never three.
//!
//! **Snapshots.** A snapshot object is a sealed camera JPEG or a plain picture the app
//! kept; [`open_snapshot`] opens either by its first bytes ([`snapshot`]).

pub mod device;
mod error;
pub mod keys;
mod retry;
pub mod snapshot;
pub mod transport;
pub mod user;

pub use device::{Activation, DeviceClient};
pub use error::{ApiError, Retry};
pub use retry::{Backoff, RetryPolicy};
pub use snapshot::{SnapshotError, SnapshotOpener, open_snapshot};
pub use transport::ApiClient;
