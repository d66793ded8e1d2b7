//! Recordings: upload slot → presigned PUT → notice (HEAD-checked) → complete; listing a
//! range with presigned GETs and explicit gaps.
//!
//! ```text
//!  camera ── POST /channels/{c}/recordings ──► row `uploading`, key built here, PUT URL
//!  camera ── PUT bytes ─────────────────────► store
//!  camera ── POST /recordings/{r}/complete {size, sha256} ─► HEAD (size) ─► `complete`
//!  (notice lost?  the reconciler lists the day folder and completes it — workers.rs)
//! ```

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eyrie_protocol::api::{
    ErrorBody, Gap, RangeQuery, Recording, RecordingList, RecordingStatus, StoreMode, UploadNotice,
    UploadSlot, UploadSlotRequest,
};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::accounts::parse_uuid;
use super::{channel_for, check_range, keys};
use crate::auth::{Caller, DeviceAuth};
use crate::db::{new_id, now_ms};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

/// Longest segment accepted.
pub const MAX_SEGMENT_MS: i64 = 600_000;
/// Longest listing range.
pub const MAX_LIST_MS: i64 = 7 * 24 * 3600 * 1000;
/// Most recordings in one listing.
pub const MAX_LIST_ITEMS: usize = 10_000;
/// Holes shorter than this between segments are not reported as gaps.
pub const GAP_TOLERANCE_MS: i64 = 250;

/// Ask for an upload slot for one segment.
#[utoipa::path(post, path = "/api/v1/channels/{id}/recordings", tag = "recordings", request_body = UploadSlotRequest,
    responses((status = 201, body = UploadSlot), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "the device's store mode is `none`"),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload_slot(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(channel): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UploadSlotRequest>,
) -> ApiResult<(StatusCode, Json<UploadSlot>)> {
    let c = channel_for(&state, &Caller::Device(dev), &channel).await?;
    if c.store_mode == StoreMode::None {
        return Err(ApiError::Forbidden(
            "store mode is none: this device's recordings are not stored (live view only); \
             upload nothing until the store mode changes"
                .into(),
        ));
    }
    check_range(req.start_ms, req.end_ms, MAX_SEGMENT_MS)?;
    if let Some(k) = &req.key_id
        && (k.is_empty()
            || k.len() > 64
            || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(ApiError::bad("key_id must be 1-64 letters, digits or '-'"));
    }
    let id = new_id();
    let key = keys::recording(&c.device_id, &c.id, req.start_ms, &id);
    sqlx::query(
        "INSERT INTO recordings (id, channel_id, start_ms, end_ms, object_key, status, event, key_id, created_ms) \
         VALUES ($1, $2, $3, $4, $5, 'uploading', $6, $7, $8)",
    )
    .bind(&id)
    .bind(&c.id)
    .bind(req.start_ms)
    .bind(req.end_ms)
    .bind(&key)
    .bind(i64::from(req.event))
    .bind(&req.key_id)
    .bind(now_ms())
    .execute(&state.db.pool)
    .await?;
    let upload = state.store.presign_put(&key);
    Ok((
        StatusCode::CREATED,
        Json(UploadSlot {
            recording_id: parse_uuid(&id)?,
            object_key: key,
            upload,
        }),
    ))
}

const REC_COLUMNS: &str =
    "id, channel_id, start_ms, end_ms, object_key, status, size, sha256, event, key_id";

fn recording_from(r: &AnyRow) -> ApiResult<(Recording, String)> {
    let status = match r.try_get::<String, _>("status")?.as_str() {
        "complete" => RecordingStatus::Complete,
        "uploading" => RecordingStatus::Uploading,
        _ => RecordingStatus::Unknown,
    };
    Ok((
        Recording {
            id: parse_uuid(&r.try_get::<String, _>("id")?)?,
            channel_id: parse_uuid(&r.try_get::<String, _>("channel_id")?)?,
            start_ms: r.try_get("start_ms")?,
            end_ms: r.try_get("end_ms")?,
            status,
            size: r
                .try_get::<Option<i64>, _>("size")?
                .map(|s| s.max(0) as u64),
            sha256: r.try_get("sha256")?,
            event: r.try_get::<i64, _>("event")? != 0,
            key_id: r.try_get("key_id")?,
            download: None,
        },
        r.try_get("object_key")?,
    ))
}

/// The upload is done: check the object and mark the recording complete.
#[utoipa::path(post, path = "/api/v1/recordings/{id}/complete", tag = "recordings", request_body = UploadNotice,
    responses((status = 200, body = Recording), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn complete(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UploadNotice>,
) -> ApiResult<Json<Recording>> {
    if req.sha256.len() != 64
        || !req
            .sha256
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    {
        return Err(ApiError::bad("sha256 must be 64 lowercase hex characters"));
    }
    let sql = format!(
        "SELECT r.{} FROM recordings r JOIN channels c ON c.id = r.channel_id WHERE r.id = $1 AND c.device_id = $2",
        REC_COLUMNS.replace(", ", ", r.")
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .bind(&dev)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(ApiError::NotFound("recording"))?;
    let (mut rec, key) = recording_from(&row)?;
    if rec.status == RecordingStatus::Complete {
        if rec.size == Some(req.size) && rec.sha256.as_deref().is_none_or(|s| s == req.sha256) {
            return Ok(Json(rec));
        }
        return Err(ApiError::Conflict(
            "recording already complete with other size or digest".into(),
        ));
    }
    match state.store.head(&key).await? {
        None => {
            return Err(ApiError::Conflict(
                "object not found in the store: upload it first".into(),
            ));
        }
        Some(size) if size != req.size => {
            return Err(ApiError::Conflict(format!(
                "object has {size} bytes, notice says {}",
                req.size
            )));
        }
        Some(_) => {}
    }
    let size = i64::try_from(req.size).map_err(|_| ApiError::bad("size too large"))?;
    sqlx::query(
        "UPDATE recordings SET status = 'complete', size = $1, sha256 = $2, completed_ms = $3 WHERE id = $4",
    )
    .bind(size)
    .bind(&req.sha256)
    .bind(now_ms())
    .bind(id.to_string())
    .execute(&state.db.pool)
    .await?;
    crate::metrics::RECORDINGS_COMPLETED.inc();
    state.clip_kick.notify_one();
    rec.status = RecordingStatus::Complete;
    rec.size = Some(req.size);
    rec.sha256 = Some(req.sha256);
    Ok(Json(rec))
}

/// Columns of a listed recording (the channel and status are known): id, start_ms,
/// end_ms, object_key, size, sha256, event, key_id.
type ListedRow = (
    String,
    i64,
    i64,
    String,
    Option<i64>,
    Option<String>,
    i64,
    Option<String>,
);

/// Complete recordings overlapping `[start, end)`, sorted, at most `limit`, with their keys.
///
/// The hot path of the timeline (2,880 rows for a day of 30 s segments): it reads only the
/// columns it needs off the `(channel_id, status, start_ms, id)` index. On PostgreSQL the
/// rows come through the typed pool (see `db.rs`). On SQLite, sqlx copies every value of
/// every row into its own allocation on the way out of the engine (`sqlite3_value_dup`)
/// and sends each row to the caller as a message — 23,000 copies for a day, about three
/// quarters of the listing's database time — so the engine joins the rows into one text
/// value instead (fields split by U+001F, rows by U+001E; ids, keys, hashes and key ids are
/// built by the server and never contain either) and [`parse_joined`] splits it.
pub async fn complete_in_range(
    state: &AppState,
    channel: &str,
    start: i64,
    end: i64,
    limit: usize,
) -> ApiResult<Vec<(Recording, String)>> {
    let channel_id = parse_uuid(channel)?;
    let sql = format!(
        "SELECT id, start_ms, end_ms, object_key, size, sha256, event, key_id FROM recordings \
         WHERE channel_id = $1 AND status = 'complete' AND start_ms >= $2 AND start_ms < $3 \
         AND end_ms > $4 ORDER BY start_ms, id LIMIT {limit}"
    );
    let rows: Vec<ListedRow> = match &state.db.typed {
        crate::db::Typed::Sqlite(pool) => {
            let joined = format!(
                "SELECT group_concat(id || char(31) || start_ms || char(31) || end_ms || char(31) \
                 || object_key || char(31) || ifnull(size, '') || char(31) || ifnull(sha256, '') \
                 || char(31) || event || char(31) || ifnull(key_id, ''), char(30)) FROM ({sql})"
            );
            let (text,): (Option<String>,) = sqlx::query_as(sqlx::AssertSqlSafe(joined))
                .bind(channel)
                .bind(start - MAX_SEGMENT_MS)
                .bind(end)
                .bind(start)
                .fetch_one(pool)
                .await?;
            parse_joined(text.as_deref().unwrap_or(""))?
        }
        crate::db::Typed::Postgres(pool) => {
            sqlx::query_as::<_, ListedRow>(sqlx::AssertSqlSafe(sql))
                .bind(channel)
                .bind(start - MAX_SEGMENT_MS)
                .bind(end)
                .bind(start)
                .fetch_all(pool)
                .await?
        }
    };
    rows.into_iter()
        .map(|(id, start_ms, end_ms, key, size, sha256, event, key_id)| {
            Ok((
                Recording {
                    id: parse_uuid(&id)?,
                    channel_id,
                    start_ms,
                    end_ms,
                    status: RecordingStatus::Complete,
                    size: size.map(|s| s.max(0) as u64),
                    sha256,
                    event: event != 0,
                    key_id,
                    download: None,
                },
                key,
            ))
        })
        .collect()
}

/// Split the SQLite listing's joined text back into rows, sorted by (start, id) — the
/// engine's `group_concat` does not promise to keep the inner query's order.
fn parse_joined(text: &str) -> ApiResult<Vec<ListedRow>> {
    fn bad(what: &str) -> ApiError {
        ApiError::Internal(format!("listing row with an unreadable {what}"))
    }
    fn opt(s: &str) -> Option<String> {
        (!s.is_empty()).then(|| s.to_owned())
    }
    let mut rows = Vec::with_capacity(text.len() / 160 + 1);
    for line in text.split('\u{1e}').filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\u{1f}').collect();
        let [id, s, e, key, size, sha, event, key_id] = f[..] else {
            return Err(bad("shape"));
        };
        let num = |v: &str, what| v.parse::<i64>().map_err(|_| bad(what));
        rows.push((
            id.to_owned(),
            num(s, "start")?,
            num(e, "end")?,
            key.to_owned(),
            if size.is_empty() {
                None
            } else {
                Some(num(size, "size")?)
            },
            opt(sha),
            num(event, "event flag")?,
            opt(key_id),
        ));
    }
    rows.sort_unstable_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    Ok(rows)
}

/// The holes in `[start, end)` not covered by the sorted `recs`.
pub fn gaps(start: i64, end: i64, recs: impl IntoIterator<Item = (i64, i64)>) -> Vec<Gap> {
    let mut out = Vec::new();
    let mut cursor = start;
    for (s, e) in recs {
        if s > cursor + GAP_TOLERANCE_MS {
            out.push(Gap {
                start_ms: cursor,
                end_ms: s.min(end),
            });
        }
        cursor = cursor.max(e);
        if cursor >= end {
            break;
        }
    }
    if cursor + GAP_TOLERANCE_MS < end {
        out.push(Gap {
            start_ms: cursor,
            end_ms: end,
        });
    }
    out
}

/// List a channel's recordings over a range.
#[utoipa::path(get, path = "/api/v1/channels/{id}/recordings", tag = "recordings", params(RangeQuery),
    responses((status = 200, body = RecordingList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(channel): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<RecordingList>> {
    let c = channel_for(&state, &caller, &channel).await?;
    check_range(q.start_ms, q.end_ms, MAX_LIST_MS)?;
    let mut rows =
        complete_in_range(&state, &c.id, q.start_ms, q.end_ms, MAX_LIST_ITEMS + 1).await?;
    let mut next_start_ms = None;
    let mut end = q.end_ms;
    if rows.len() > MAX_LIST_ITEMS {
        rows.truncate(MAX_LIST_ITEMS);
        let last_end = rows.last().map_or(q.end_ms, |(r, _)| r.end_ms);
        next_start_ms = Some(last_end);
        end = last_end.min(q.end_ms);
    }
    let gaps = gaps(
        q.start_ms,
        end,
        rows.iter().map(|(r, _)| (r.start_ms, r.end_ms)),
    );
    let sign = state.store.get_signer();
    let recordings = rows
        .into_iter()
        .map(|(mut r, key)| {
            r.download = Some(sign(&key));
            r
        })
        .collect();
    Ok(Json(RecordingList {
        channel_id: channel,
        start_ms: q.start_ms,
        end_ms: q.end_ms,
        recordings,
        gaps,
        next_start_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_finding() {
        assert_eq!(
            gaps(0, 100_000, []),
            vec![Gap {
                start_ms: 0,
                end_ms: 100_000
            }]
        );
        let g = gaps(0, 90_000, [(0, 30_000), (30_100, 60_000), (70_000, 95_000)]);
        assert_eq!(
            g,
            vec![Gap {
                start_ms: 60_000,
                end_ms: 70_000
            }]
        );
        let g = gaps(10_000, 90_000, [(0, 30_000), (40_000, 50_000)]);
        assert_eq!(
            g,
            vec![
                Gap {
                    start_ms: 30_000,
                    end_ms: 40_000
                },
                Gap {
                    start_ms: 50_000,
                    end_ms: 90_000
                }
            ]
        );
    }

    #[test]
    fn joined_listing_rows_split_back_sorted_with_their_nulls() {
        let row = |id: &str, start: i64, size: &str, sha: &str, key_id: &str| {
            format!(
                "{id}\u{1f}{start}\u{1f}{}\u{1f}k/{id}\u{1f}{size}\u{1f}{sha}\u{1f}1\u{1f}{key_id}",
                start + 30_000
            )
        };
        let text = [
            row("b", 60_000, "10", "ff", "k1"),
            row("a", 0, "", "", ""),
            row("c", 60_000, "7", "ee", "k1"),
        ]
        .join("\u{1e}");
        let rows = parse_joined(&text).unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(rows[0].4, None);
        assert_eq!(rows[0].5, None);
        assert_eq!(rows[0].7, None);
        assert_eq!(rows[1].4, Some(10));
        assert_eq!(rows[1].3, "k/b");
        assert_eq!(rows[1].2, 90_000);
        assert_eq!(rows[1].6, 1);
        assert!(parse_joined("").unwrap().is_empty());
        assert!(parse_joined("a\u{1f}1").is_err());
        assert!(parse_joined(&row("x", 0, "ten", "", "")).is_err());
    }
}
