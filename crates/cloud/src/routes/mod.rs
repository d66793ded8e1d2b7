//! HTTP routes. One file per resource; the shared ownership checks live here so every
//! route asks the same question the same way: does this caller own this device or channel?
//! A user owns their devices; a device owns itself and its channels. Anything else — and
//! anything that does not exist — answers 404, so ids do not leak.

pub mod accounts;
pub mod clips;
pub mod devices;
pub mod events;
pub mod live;
pub mod ops;
pub mod recordings;
pub mod setup;
pub mod snapshots;

use axum::Router;
use axum::routing::{get, post};
use eyrie_protocol::api::{Channel, ChannelKind, Device, StoreMode};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::now_ms;
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
        .route("/tls/ca.pem", get(ops::ca_certificate));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(axum::middleware::from_fn(crate::public::remember_host))
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .with_state(state)
}

/// A device row as the routes need it.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub store_mode: StoreMode,
    pub activated: bool,
    pub last_seen_ms: Option<i64>,
    pub dropped_segments: i64,
    pub created_ms: i64,
}

pub const DEVICE_COLUMNS: &str =
    "id, owner_id, name, store_mode, activated, last_seen_ms, dropped_segments, created_ms";

impl DeviceRow {
    pub fn from_row(r: &AnyRow) -> ApiResult<Self> {
        Ok(Self {
            id: r.try_get("id")?,
            owner_id: r.try_get("owner_id")?,
            name: r.try_get("name")?,
            store_mode: r
                .try_get::<String, _>("store_mode")?
                .parse()
                .map_err(ApiError::Internal)?,
            activated: r.try_get::<i64, _>("activated")? != 0,
            last_seen_ms: r.try_get("last_seen_ms")?,
            dropped_segments: r.try_get("dropped_segments")?,
            created_ms: r.try_get("created_ms")?,
        })
    }
}

/// The device `id` if `caller` may see it (its owner, or the device itself), else 404.
pub async fn device_for(state: &AppState, caller: &Caller, id: &Uuid) -> ApiResult<DeviceRow> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(ApiError::NotFound("device"))?;
    let d = DeviceRow::from_row(&row)?;
    let allowed = match caller {
        Caller::User(u) => &d.owner_id == u,
        Caller::Device(dev) => &d.id == dev,
    };
    if allowed {
        Ok(d)
    } else {
        Err(ApiError::NotFound("device"))
    }
}

pub fn channel_kind(s: &str) -> ChannelKind {
    match s {
        "main" => ChannelKind::Main,
        "sub" => ChannelKind::Sub,
        _ => ChannelKind::Unknown,
    }
}

/// The API view of a device row.
pub async fn device_json(state: &AppState, d: &DeviceRow) -> ApiResult<Device> {
    let rows = sqlx::query("SELECT id, kind FROM channels WHERE device_id = $1 ORDER BY kind")
        .bind(&d.id)
        .fetch_all(&state.db.pool)
        .await?;
    let mut channels = Vec::with_capacity(rows.len());
    for r in &rows {
        channels.push(Channel {
            id: accounts::parse_uuid(&r.try_get::<String, _>("id")?)?,
            kind: channel_kind(&r.try_get::<String, _>("kind")?),
        });
    }
    Ok(Device {
        id: accounts::parse_uuid(&d.id)?,
        name: d.name.clone(),
        store_mode: d.store_mode,
        activated: d.activated,
        online: d
            .last_seen_ms
            .is_some_and(|s| now_ms() - s < ONLINE_WINDOW_MS),
        last_seen_ms: d.last_seen_ms,
        dropped_segments: d.dropped_segments.max(0) as u64,
        channels,
        created_ms: d.created_ms,
    })
}

/// A channel and who it belongs to.
#[derive(Debug, Clone)]
pub struct ChannelCtx {
    pub id: String,
    pub device_id: String,
    pub owner_id: String,
    pub store_mode: StoreMode,
}

/// The channel `id` if `caller` may use it (owner of its device, or the device), else 404.
pub async fn channel_for(state: &AppState, caller: &Caller, id: &Uuid) -> ApiResult<ChannelCtx> {
    let row = sqlx::query(
        "SELECT c.id, c.device_id, d.owner_id, d.store_mode FROM channels c \
         JOIN devices d ON d.id = c.device_id WHERE c.id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or(ApiError::NotFound("channel"))?;
    let c = ChannelCtx {
        id: row.try_get("id")?,
        device_id: row.try_get("device_id")?,
        owner_id: row.try_get("owner_id")?,
        store_mode: row
            .try_get::<String, _>("store_mode")?
            .parse()
            .map_err(ApiError::Internal)?,
    };
    let allowed = match caller {
        Caller::User(u) => &c.owner_id == u,
        Caller::Device(d) => &c.device_id == d,
    };
    if allowed {
        Ok(c)
    } else {
        Err(ApiError::NotFound("channel"))
    }
}

/// Validate a `[start_ms, end_ms)` range.
pub fn check_range(start_ms: i64, end_ms: i64, max_ms: i64) -> ApiResult<()> {
    if start_ms < 0 || end_ms <= start_ms {
        return Err(ApiError::bad(
            "end_ms must be after start_ms, both non-negative",
        ));
    }
    if end_ms - start_ms > max_ms {
        return Err(ApiError::bad(format!("range longer than {max_ms} ms")));
    }
    Ok(())
}

/// Object keys are built here only, from server-side ids.
pub mod keys {
    /// `d/<device>/c/<channel>/r/<yyyymmdd>/<start_ms>-<recording>`: the day folder bounds
    /// the reconciler's listings.
    pub fn recording(device: &str, channel: &str, start_ms: i64, id: &str) -> String {
        let day = time::OffsetDateTime::from_unix_timestamp(start_ms.div_euclid(1000))
            .map(|t| format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day()))
            .unwrap_or_else(|_| "00000000".into());
        format!("d/{device}/c/{channel}/r/{day}/{start_ms:013}-{id}")
    }

    /// Prefix of one channel's recordings for one day (as in [`recording`]).
    pub fn recording_day_prefix(key: &str) -> Option<&str> {
        key.rfind('/').map(|i| &key[..=i])
    }

    pub fn clip(device: &str, channel: &str, id: &str) -> String {
        format!("d/{device}/c/{channel}/clips/{id}")
    }

    pub fn snapshot(device: &str, channel: &str, id: &str) -> String {
        format!("d/{device}/c/{channel}/snap/{id}")
    }

    pub fn device_prefix(device: &str) -> String {
        format!("d/{device}/")
    }
}
