//! Events: the camera reports start and end; viewers list them as timeline markers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eyrie_protocol::api::{
    ErrorBody, Event, EventEnd, EventKind, EventList, EventStart, RangeQuery,
};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::accounts::parse_uuid;
use super::{channel_for, check_range};
use crate::auth::{Caller, DeviceAuth};
use crate::db::new_id;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

/// Events longer than this are cut at this length in listings' search window.
const MAX_EVENT_MS: i64 = 24 * 3600 * 1000;

fn kind_str(k: EventKind) -> ApiResult<&'static str> {
    match k {
        EventKind::Motion => Ok("motion"),
        EventKind::Manual => Ok("manual"),
        EventKind::Sound => Ok("sound"),
        EventKind::Unknown => Err(ApiError::bad("unknown event kind")),
    }
}

fn event_from(r: &AnyRow) -> ApiResult<Event> {
    let kind = match r.try_get::<String, _>("kind")?.as_str() {
        "motion" => EventKind::Motion,
        "manual" => EventKind::Manual,
        "sound" => EventKind::Sound,
        _ => EventKind::Unknown,
    };
    Ok(Event {
        id: parse_uuid(&r.try_get::<String, _>("id")?)?,
        channel_id: parse_uuid(&r.try_get::<String, _>("channel_id")?)?,
        kind,
        start_ms: r.try_get("start_ms")?,
        end_ms: r.try_get("end_ms")?,
    })
}

/// An event started.
#[utoipa::path(post, path = "/api/v1/channels/{id}/events", tag = "events", request_body = EventStart,
    responses((status = 201, body = Event), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(channel): ApiPath<Uuid>,
    ApiJson(req): ApiJson<EventStart>,
) -> ApiResult<(StatusCode, Json<Event>)> {
    let c = channel_for(&state, &Caller::Device(dev), &channel).await?;
    if req.start_ms < 0 {
        return Err(ApiError::bad("start_ms must be non-negative"));
    }
    let id = new_id();
    sqlx::query("INSERT INTO events (id, channel_id, kind, start_ms) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(&c.id)
        .bind(kind_str(req.kind)?)
        .bind(req.start_ms)
        .execute(&state.db.pool)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Event {
            id: parse_uuid(&id)?,
            channel_id: channel,
            kind: req.kind,
            start_ms: req.start_ms,
            end_ms: None,
        }),
    ))
}

/// An event ended.
#[utoipa::path(post, path = "/api/v1/events/{id}/end", tag = "events", request_body = EventEnd,
    responses((status = 200, body = Event), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn end(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<EventEnd>,
) -> ApiResult<Json<Event>> {
    let row = sqlx::query(
        "SELECT e.id, e.channel_id, e.kind, e.start_ms, e.end_ms FROM events e \
         JOIN channels c ON c.id = e.channel_id WHERE e.id = $1 AND c.device_id = $2",
    )
    .bind(id.to_string())
    .bind(&dev)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or(ApiError::NotFound("event"))?;
    let mut ev = event_from(&row)?;
    if req.end_ms < ev.start_ms || req.end_ms - ev.start_ms > MAX_EVENT_MS {
        return Err(ApiError::bad(
            "end_ms must be after start_ms and within 24 h",
        ));
    }
    sqlx::query("UPDATE events SET end_ms = $1 WHERE id = $2")
        .bind(req.end_ms)
        .bind(id.to_string())
        .execute(&state.db.pool)
        .await?;
    ev.end_ms = Some(req.end_ms);
    Ok(Json(ev))
}

/// Events overlapping a range.
#[utoipa::path(get, path = "/api/v1/channels/{id}/events", tag = "events", params(RangeQuery),
    responses((status = 200, body = EventList), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(channel): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<EventList>> {
    let c = channel_for(&state, &caller, &channel).await?;
    check_range(q.start_ms, q.end_ms, super::recordings::MAX_LIST_MS)?;
    let rows = sqlx::query(
        "SELECT id, channel_id, kind, start_ms, end_ms FROM events WHERE channel_id = $1 \
         AND start_ms >= $2 AND start_ms < $3 AND (end_ms IS NULL OR end_ms > $4) ORDER BY start_ms LIMIT 10000",
    )
    .bind(&c.id)
    .bind(q.start_ms - MAX_EVENT_MS)
    .bind(q.end_ms)
    .bind(q.start_ms)
    .fetch_all(&state.db.pool)
    .await?;
    let events = rows.iter().map(event_from).collect::<ApiResult<_>>()?;
    Ok(Json(EventList { events }))
}
