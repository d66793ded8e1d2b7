//! Events: the camera reports start and end; viewers list them as timeline markers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eyrie_protocol::api::{
    ErrorBody, Event, EventEnd, EventKind, EventList, EventStart, RangeQuery,
};
use uuid::Uuid;

use super::{channel_for, check_range};
use crate::auth::{Caller, DeviceAuth};
use crate::db::{self, new_id};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

/// Events longer than this are cut at this length in listings' search window.
const MAX_EVENT_MS: i64 = 24 * 3600 * 1000;

/// The checks of an event start: a time in range and a known kind.
pub fn check_event_start(req: &EventStart) -> ApiResult<()> {
    super::check_time("start_ms", req.start_ms)?;
    if req.kind == EventKind::Unknown {
        return Err(ApiError::bad("unknown event kind"));
    }
    Ok(())
}

/// The checks of an event end, for an event that started at `start_ms`: a time in
/// range, not before the start and within [`MAX_EVENT_MS`] of it.
pub fn check_event_end(req: &EventEnd, start_ms: i64) -> ApiResult<()> {
    super::check_time("end_ms", req.end_ms)?;
    if req.end_ms < start_ms || req.end_ms - start_ms > MAX_EVENT_MS {
        return Err(ApiError::bad(
            "end_ms must be after start_ms and within 24 h",
        ));
    }
    Ok(())
}

/// An event started.
#[utoipa::path(post, path = "/api/v1/channels/{id}/events", tag = "events", request_body = EventStart,
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a user calling a device route"), (status = 201, body = Event), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(channel): ApiPath<Uuid>,
    ApiJson(req): ApiJson<EventStart>,
) -> ApiResult<(StatusCode, Json<Event>)> {
    let c = channel_for(&state, &Caller::Device(dev), &channel).await?;
    check_event_start(&req)?;
    let ev = Event {
        id: new_id(),
        channel_id: c.id,
        kind: req.kind,
        start_ms: req.start_ms,
        end_ms: None,
    };
    db::events::insert(&state.db, &ev).await?;
    Ok((StatusCode::CREATED, Json(ev)))
}

/// An event ended.
#[utoipa::path(post, path = "/api/v1/events/{id}/end", tag = "events", request_body = EventEnd,
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a user calling a device route"), (status = 200, body = Event), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn end(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<EventEnd>,
) -> ApiResult<Json<Event>> {
    let mut ev = db::events::for_device(&state.db, &id, &dev)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    check_event_end(&req, ev.start_ms)?;
    db::events::set_end(&state.db, &id, req.end_ms).await?;
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
    let events = db::events::in_range(
        &state.db,
        &c.id,
        q.start_ms - MAX_EVENT_MS,
        q.end_ms,
        q.start_ms,
    )
    .await?;
    Ok(Json(EventList { events }))
}
