//! Events: the camera reports a start and an end; the timeline lists them as markers.

use eyrie_protocol::api::{Event, EventKind};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Db, Error, Result, text, uuid_at};

fn kind_text(k: EventKind) -> Result<&'static str> {
    match k {
        EventKind::Motion => Ok("motion"),
        EventKind::Manual => Ok("manual"),
        EventKind::Sound => Ok("sound"),
        EventKind::Unknown => Err(Error::Corrupt("event kind")),
    }
}

fn event_from(r: &AnyRow) -> Result<Event> {
    let kind = match r.try_get::<String, _>("kind")?.as_str() {
        "motion" => EventKind::Motion,
        "manual" => EventKind::Manual,
        "sound" => EventKind::Sound,
        _ => EventKind::Unknown,
    };
    Ok(Event {
        id: uuid_at(r, "id")?,
        channel_id: uuid_at(r, "channel_id")?,
        kind,
        start_ms: r.try_get("start_ms")?,
        end_ms: r.try_get("end_ms")?,
    })
}

/// Store a started event (`end_ms` unset). The kind must be a known one (the caller
/// refuses `Unknown` first; here it would be [`Error::Corrupt`]).
pub async fn insert(db: &Db, ev: &Event) -> Result<()> {
    sqlx::query("INSERT INTO events (id, channel_id, kind, start_ms) VALUES ($1, $2, $3, $4)")
        .bind(text(&ev.id))
        .bind(text(&ev.channel_id))
        .bind(kind_text(ev.kind)?)
        .bind(ev.start_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// An event of one of this device's channels.
pub async fn for_device(db: &Db, id: &Uuid, device: &Uuid) -> Result<Option<Event>> {
    let row = sqlx::query(
        "SELECT e.id, e.channel_id, e.kind, e.start_ms, e.end_ms FROM events e \
         JOIN channels c ON c.id = e.channel_id WHERE e.id = $1 AND c.device_id = $2",
    )
    .bind(text(id))
    .bind(text(device))
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(event_from).transpose()
}

pub async fn set_end(db: &Db, id: &Uuid, end_ms: i64) -> Result<()> {
    sqlx::query("UPDATE events SET end_ms = $1 WHERE id = $2")
        .bind(end_ms)
        .bind(text(id))
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Events of a channel that started in `[from_ms, to_ms)` and had not ended by
/// `open_at_ms`, by start, at most 10,000.
pub async fn in_range(
    db: &Db,
    channel: &Uuid,
    from_ms: i64,
    to_ms: i64,
    open_at_ms: i64,
) -> Result<Vec<Event>> {
    let rows = sqlx::query(
        "SELECT id, channel_id, kind, start_ms, end_ms FROM events WHERE channel_id = $1 \
         AND start_ms >= $2 AND start_ms < $3 AND (end_ms IS NULL OR end_ms > $4) ORDER BY start_ms LIMIT 10000",
    )
    .bind(text(channel))
    .bind(from_ms)
    .bind(to_ms)
    .bind(open_at_ms)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(event_from).collect()
}
