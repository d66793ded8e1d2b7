//! HTTP routes. One file per resource; the shared ownership checks live here so every
//! route asks the same question the same way: does this caller own this device or channel?
//! A user owns their devices; a device owns itself and its channels. Anything else — and
//! anything that does not exist — answers 404, so ids do not leak.
//!
//! A handler validates its input, asks [`crate::db`] (which holds every SQL statement)
//! and shapes the answer; it never writes SQL itself.

pub mod accounts;
pub mod clips;
pub mod devices;
pub mod e2e;
pub mod events;
pub mod live;
pub mod ops;
pub mod recordings;
pub mod setup;
pub mod snapshots;

use axum::Router;
use axum::routing::{get, post};
use eyrie_protocol::api::Device;
use eyrie_protocol::clock::unix_ms;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db;
use crate::db::devices::{ChannelOwner, DeviceRow};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A device is shown online when it called within this many milliseconds.
pub const ONLINE_WINDOW_MS: i64 = 90_000;

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/accounts", post(accounts::register))
        .route("/login", post(accounts::login))
        .route("/logout", post(accounts::logout))
        .route("/me", get(accounts::me))
        .route("/devices", post(devices::create).get(devices::list))
        .route("/devices/claim", post(setup::claim))
        .route(
            "/devices/{id}",
            get(devices::get_one)
                .patch(devices::rename)
                .delete(devices::delete),
        )
        .route(
            "/devices/{id}/store-mode",
            get(devices::get_store_mode).put(devices::set_store_mode),
        )
        .route("/devices/{id}/heartbeat", post(devices::heartbeat))
        .route(
            "/devices/{id}/snapshot-request",
            post(devices::request_snapshot),
        )
        .route("/devices/{id}/keys", get(devices::keys))
        .merge(e2e_routes())
        .route("/devices/{id}/tickets", post(live::ticket))
        .route("/devices/{id}/ice-servers", get(live::ice_servers))
        .route("/pairings", post(setup::pairing))
        .route("/activate", post(setup::activate))
        .route("/mqtt/auth", post(live::mqtt_auth))
        .route(
            "/channels/{id}/recordings",
            post(recordings::upload_slot).get(recordings::list),
        )
        .route("/recordings/{id}/complete", post(recordings::complete))
        .route(
            "/channels/{id}/events",
            post(events::start).get(events::list),
        )
        .route("/events/{id}/end", post(events::end))
        .route("/channels/{id}/clips", post(clips::create))
        .route("/clips", get(clips::list))
        .route("/clips/{id}", get(clips::get_one).delete(clips::delete))
        .route(
            "/channels/{id}/snapshots",
            post(snapshots::create).get(snapshots::list),
        )
        .route(
            "/snapshots/{id}",
            get(snapshots::get_one).delete(snapshots::delete),
        )
        .route("/snapshots/{id}/confirm", post(snapshots::confirm))
        .route("/tls/ca.pem", get(ops::ca_certificate))
        .merge(crate::whep::router());
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(ops::openapi))
        .route("/", get(crate::web::root))
        .route("/web/{file}", get(crate::web::file))
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn(crate::error::json_errors))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(axum::middleware::from_fn(crate::public::remember_host))
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .with_state(state)
}

/// The end-to-end key routes (`docs/api.md` §13), with their smaller body limit.
fn e2e_routes() -> Router<AppState> {
    use axum::routing::{delete, put};
    Router::new()
        .route("/keyset", get(e2e::keyset).post(e2e::post_keyset))
        .route("/devices/{id}/keyset", get(e2e::device_keyset))
        .route("/devices/{id}/pairing", get(e2e::pairing))
        .route("/devices/{id}/pairing/camera", put(e2e::pairing_camera))
        .route("/devices/{id}/pairing/viewer", put(e2e::pairing_viewer))
        .route("/devices/{id}/pairing/outcome", put(e2e::pairing_outcome))
        .route("/devices/{id}/content-keys", post(e2e::post_content_key))
        .route(
            "/devices/{id}/content-keys/{key_id}/wraps",
            post(e2e::add_wraps),
        )
        .route(
            "/installations",
            post(e2e::request_installation).get(e2e::installations),
        )
        .route("/installations/{id}", delete(e2e::dismiss_installation))
        .layer(axum::extract::DefaultBodyLimit::max(e2e::MAX_BODY_BYTES))
}

/// Whether `caller` may use what belongs to device `device_id` of `owner_id`: the owner
/// may, and the device itself; anyone else is answered 404, as if it did not exist.
pub fn may_use(caller: &Caller, owner_id: &Uuid, device_id: &Uuid) -> bool {
    match caller {
        Caller::User(u) => owner_id == u,
        Caller::Device(d) => device_id == d,
    }
}

/// The device `id` if `caller` may see it (its owner, or the device itself), else 404.
pub async fn device_for(state: &AppState, caller: &Caller, id: &Uuid) -> ApiResult<DeviceRow> {
    db::devices::by_id(&state.db, id)
        .await?
        .filter(|d| may_use(caller, &d.owner_id, &d.id))
        .ok_or(ApiError::NotFound("device"))
}

/// Whether a device seen at `last_seen_ms` counts as online at `now_ms`.
pub fn online(last_seen_ms: Option<i64>, now_ms: i64) -> bool {
    last_seen_ms.is_some_and(|s| now_ms - s < ONLINE_WINDOW_MS)
}

/// The API view of a device row.
pub async fn device_json(state: &AppState, d: &DeviceRow) -> ApiResult<Device> {
    let channels = db::devices::channels(&state.db, &d.id).await?;
    Ok(Device {
        id: d.id,
        name: d.name.clone(),
        store_mode: d.store_mode,
        activated: d.activated,
        online: online(d.last_seen_ms, unix_ms()),
        last_seen_ms: d.last_seen_ms,
        dropped_segments: d.dropped_segments.max(0) as u64,
        channels,
        created_ms: d.created_ms,
    })
}

/// The channel `id` if `caller` may use it (owner of its device, or the device), else 404.
pub async fn channel_for(state: &AppState, caller: &Caller, id: &Uuid) -> ApiResult<ChannelOwner> {
    db::devices::channel(&state.db, id)
        .await?
        .filter(|c| may_use(caller, &c.owner_id, &c.device_id))
        .ok_or(ApiError::NotFound("channel"))
}

/// The latest time the API accepts, in unix milliseconds: the end of the year 9999. Far
/// beyond any real recording, and far enough from `i64::MAX` that no sum the service
/// makes on a time (a range end plus a tolerance, a deadline) can overflow.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// A client-given time: 0 ..= [`MAX_TIME_MS`], else 400.
pub fn check_time(name: &str, ms: i64) -> ApiResult<()> {
    if (0..=MAX_TIME_MS).contains(&ms) {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "{name} must be a unix time in milliseconds from 0 to {MAX_TIME_MS}"
        )))
    }
}

/// Validate a `[start_ms, end_ms)` range: both times in range, `end_ms` after
/// `start_ms`, at most `max_ms` long.
pub fn check_range(start_ms: i64, end_ms: i64, max_ms: i64) -> ApiResult<()> {
    check_time("start_ms", start_ms)?;
    check_time("end_ms", end_ms)?;
    if end_ms <= start_ms {
        return Err(ApiError::bad("end_ms must be after start_ms"));
    }
    if end_ms - start_ms > max_ms {
        return Err(ApiError::bad(format!("range longer than {max_ms} ms")));
    }
    Ok(())
}
