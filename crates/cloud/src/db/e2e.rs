//! End-to-end keys (`docs/keys.md`, `docs/api.md` §13): what the cloud stores and cannot
//! read. Key set statements per user (the signed JSON as carried), the pairing check
//! relayed per device, content keys per device with their wraps to viewer keys, and
//! installations asking to be admitted.
//!
//! Statements, hellos, answers and public keys are stored as the JSON the route checked;
//! this module neither reads nor checks them. Deleting a device deletes its pairing state,
//! content keys and wraps ([`super::devices::delete`]); a user's rows go with the user
//! (`ON DELETE CASCADE`).

use sqlx::Row as _;
use uuid::Uuid;

use super::{Db, Error, Result, inserted, text};

/// How long an installation request stays listed.
pub const INSTALLATION_LIFE_MS: i64 = 24 * 3600 * 1000;

// ───────────────────────────── key sets ─────────────────────────────

/// A stored key set statement: its version and the statement JSON as posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRow {
    pub version: u64,
    pub statement: String,
}

fn version_at(r: &sqlx::any::AnyRow, col: &'static str) -> Result<u64> {
    u64::try_from(r.try_get::<i64, _>(col)?).map_err(|_| Error::Corrupt(col))
}

fn stored_version(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The user's statements with a version above `since`, oldest first.
pub async fn statements_since(db: &Db, user: &Uuid, since: u64) -> Result<Vec<StatementRow>> {
    let rows = sqlx::query(
        "SELECT version, statement FROM keyset_statements WHERE user_id = $1 AND version > $2 \
         ORDER BY version",
    )
    .bind(text(user))
    .bind(stored_version(since))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StatementRow {
                version: version_at(r, "version")?,
                statement: r.try_get("statement")?,
            })
        })
        .collect()
}

/// The user's latest statement.
pub async fn latest_statement(db: &Db, user: &Uuid) -> Result<Option<StatementRow>> {
    let row = sqlx::query(
        "SELECT version, statement FROM keyset_statements WHERE user_id = $1 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(text(user))
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(StatementRow {
            version: version_at(&r, "version")?,
            statement: r.try_get("statement")?,
        })
    })
    .transpose()
}

/// The user's statement of `version`.
pub async fn statement(db: &Db, user: &Uuid, version: u64) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT statement FROM keyset_statements WHERE user_id = $1 AND version = $2",
    )
    .bind(text(user))
    .bind(stored_version(version))
    .fetch_optional(&db.pool)
    .await?)
}

/// A statement to store.
#[derive(Debug, Clone)]
pub struct NewStatement<'a> {
    pub user: &'a Uuid,
    pub version: u64,
    pub statement: &'a str,
    pub signer: &'a str,
    /// Viewer key ids it lists: their installation requests are dismissed with it.
    pub members: &'a [String],
    pub now_ms: i64,
}

/// Store a statement and dismiss the installation requests of keys it lists, in one
/// transaction. [`Error::Duplicate`] when the version is already taken (a replay, or a
/// racing post).
pub async fn insert_statement(db: &Db, s: &NewStatement<'_>) -> Result<()> {
    let mut tx = db.begin_write().await?;
    inserted(
        sqlx::query(
            "INSERT INTO keyset_statements (user_id, version, statement, signer, created_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(text(s.user))
        .bind(stored_version(s.version))
        .bind(s.statement)
        .bind(s.signer)
        .bind(s.now_ms)
        .execute(&mut *tx)
        .await,
    )?;
    for key in s.members {
        sqlx::query("DELETE FROM installation_requests WHERE user_id = $1 AND key_id = $2")
            .bind(text(s.user))
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

// ───────────────────────────── pairing check ─────────────────────────────

/// A device's pairing check as stored (JSON texts).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PairingRow {
    pub camera: Option<String>,
    pub viewer: Option<String>,
    pub outcome: Option<String>,
}

/// The device's pairing check (all empty when it never started one).
pub async fn pairing(db: &Db, device: &Uuid) -> Result<PairingRow> {
    let row =
        sqlx::query("SELECT camera, viewer, outcome FROM pairing_checks WHERE device_id = $1")
            .bind(text(device))
            .fetch_optional(&db.pool)
            .await?;
    Ok(match row {
        Some(r) => PairingRow {
            camera: r.try_get("camera")?,
            viewer: r.try_get("viewer")?,
            outcome: r.try_get("outcome")?,
        },
        None => PairingRow::default(),
    })
}

/// Start a new check: the camera's hello replaces everything before it (one upsert, so
/// two racing hellos leave one whole check).
pub async fn pairing_start(
    db: &Db,
    device: &Uuid,
    attempt: &str,
    camera: &str,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO pairing_checks (device_id, attempt, camera, viewer, outcome, updated_ms) \
         VALUES ($1, $2, $3, NULL, NULL, $4) \
         ON CONFLICT (device_id) DO UPDATE SET attempt = excluded.attempt, \
         camera = excluded.camera, viewer = NULL, outcome = NULL, updated_ms = excluded.updated_ms",
    )
    .bind(text(device))
    .bind(attempt)
    .bind(camera)
    .bind(now_ms)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Store the viewer's answer to `attempt`: true when it was the current attempt and not
/// answered yet (compare-and-set: one answer per attempt).
pub async fn pairing_answer(
    db: &Db,
    device: &Uuid,
    attempt: &str,
    viewer: &str,
    now_ms: i64,
) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query(
            "UPDATE pairing_checks SET viewer = $1, updated_ms = $2 \
             WHERE device_id = $3 AND attempt = $4 AND viewer IS NULL",
        )
        .bind(viewer)
        .bind(now_ms)
        .bind(text(device))
        .bind(attempt),
    )
    .await
}

/// Store the camera's outcome: true when the check had an answer.
pub async fn pairing_outcome(db: &Db, device: &Uuid, outcome: &str, now_ms: i64) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query(
            "UPDATE pairing_checks SET outcome = $1, updated_ms = $2 \
             WHERE device_id = $3 AND viewer IS NOT NULL",
        )
        .bind(outcome)
        .bind(now_ms)
        .bind(text(device)),
    )
    .await
}

// ───────────────────────────── content keys ─────────────────────────────

/// One wrap of a content key, as carried (`WrappedKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapRow {
    pub viewer_key_id: String,
    pub enc: String,
    pub ct: String,
}

/// A content key of a device, with the wrap asked for (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentKeyRow {
    pub key_id: String,
    pub created_ms: i64,
    pub keyset_version: u64,
    pub wrap: Option<WrapRow>,
}

/// Whether `key_id` names a key of the device: a content key or its legacy key.
pub async fn key_known(db: &Db, device: &Uuid, key_id: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM content_keys WHERE device_id = $1 AND key_id = $2) \
         + (SELECT COUNT(*) FROM recording_keys WHERE device_id = $1 AND key_id = $2)",
    )
    .bind(text(device))
    .bind(key_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(n > 0)
}

/// Whether `key_id` is a content key of the device.
pub async fn content_key_exists(db: &Db, device: &Uuid, key_id: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM content_keys WHERE device_id = $1 AND key_id = $2",
    )
    .bind(text(device))
    .bind(key_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(n > 0)
}

/// Store a new content key and its wraps in one transaction; [`Error::Duplicate`] when
/// the device already has that key id.
pub async fn insert_content_key(
    db: &Db,
    device: &Uuid,
    key_id: &str,
    created_ms: i64,
    keyset_version: u64,
    wraps: &[WrapRow],
) -> Result<()> {
    let mut tx = db.begin_write().await?;
    inserted(
        sqlx::query(
            "INSERT INTO content_keys (device_id, key_id, created_ms, keyset_version) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(text(device))
        .bind(key_id)
        .bind(created_ms)
        .bind(stored_version(keyset_version))
        .execute(&mut *tx)
        .await,
    )?;
    for w in wraps {
        insert_wrap(&mut tx, device, key_id, w).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn insert_wrap(
    conn: &mut sqlx::AnyConnection,
    device: &Uuid,
    key_id: &str,
    w: &WrapRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO content_key_wraps (device_id, key_id, viewer_key_id, enc, ct) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (device_id, key_id, viewer_key_id) DO UPDATE SET \
         enc = excluded.enc, ct = excluded.ct",
    )
    .bind(text(device))
    .bind(key_id)
    .bind(&w.viewer_key_id)
    .bind(&w.enc)
    .bind(&w.ct)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Add wraps to a content key of the device (replacing one for the same viewer key);
/// false when the device has no such content key.
pub async fn add_wraps(db: &Db, device: &Uuid, key_id: &str, wraps: &[WrapRow]) -> Result<bool> {
    let mut tx = db.begin_write().await?;
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM content_keys WHERE device_id = $1 AND key_id = $2",
    )
    .bind(text(device))
    .bind(key_id)
    .fetch_one(&mut *tx)
    .await?;
    if n == 0 {
        return Ok(false);
    }
    for w in wraps {
        insert_wrap(&mut tx, device, key_id, w).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The device's content keys, newest first, each with its wrap for `viewer_key` (if
/// given and there is one).
pub async fn content_keys(
    db: &Db,
    device: &Uuid,
    viewer_key: Option<&str>,
) -> Result<Vec<ContentKeyRow>> {
    let rows = sqlx::query(
        "SELECT k.key_id, k.created_ms, k.keyset_version, w.viewer_key_id, w.enc, w.ct \
         FROM content_keys k LEFT JOIN content_key_wraps w \
         ON w.device_id = k.device_id AND w.key_id = k.key_id AND w.viewer_key_id = $1 \
         WHERE k.device_id = $2 ORDER BY k.created_ms DESC, k.key_id",
    )
    .bind(viewer_key.unwrap_or(""))
    .bind(text(device))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let viewer_key_id: Option<String> = r.try_get("viewer_key_id")?;
            let wrap = match viewer_key_id {
                Some(viewer_key_id) if viewer_key.is_some() => Some(WrapRow {
                    viewer_key_id,
                    enc: r.try_get("enc")?,
                    ct: r.try_get("ct")?,
                }),
                _ => None,
            };
            Ok(ContentKeyRow {
                key_id: r.try_get("key_id")?,
                created_ms: r.try_get("created_ms")?,
                keyset_version: version_at(r, "keyset_version")?,
                wrap,
            })
        })
        .collect()
}

/// Every wrap of every content key of the device: (key id, wrap), for checks.
pub async fn all_wraps(db: &Db, device: &Uuid) -> Result<Vec<(String, WrapRow)>> {
    let rows = sqlx::query(
        "SELECT key_id, viewer_key_id, enc, ct FROM content_key_wraps WHERE device_id = $1 \
         ORDER BY key_id, viewer_key_id",
    )
    .bind(text(device))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("key_id")?,
                WrapRow {
                    viewer_key_id: r.try_get("viewer_key_id")?,
                    enc: r.try_get("enc")?,
                    ct: r.try_get("ct")?,
                },
            ))
        })
        .collect()
}

/// The statements of a device's pairing state, content keys and wraps: deleted with the
/// device, in its transaction.
pub(super) const DEVICE_DELETES: [&str; 3] = [
    "DELETE FROM pairing_checks WHERE device_id = $1",
    "DELETE FROM content_key_wraps WHERE device_id = $1",
    "DELETE FROM content_keys WHERE device_id = $1",
];

// ───────────────────────────── installations ─────────────────────────────

/// An installation request as stored (the public key as its JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationRow {
    pub key_id: String,
    pub name: String,
    pub public: String,
    pub created_ms: i64,
}

/// Live requests (younger than [`INSTALLATION_LIFE_MS`]) of the user.
pub async fn live_installations(db: &Db, user: &Uuid, now_ms: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM installation_requests WHERE user_id = $1 AND created_ms > $2",
    )
    .bind(text(user))
    .bind(now_ms - INSTALLATION_LIFE_MS)
    .fetch_one(&db.pool)
    .await?)
}

/// Store a request, replacing one of the same user for the same key; expired requests of
/// the user go at the same time.
pub async fn put_installation(db: &Db, user: &Uuid, r: &InstallationRow) -> Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM installation_requests WHERE user_id = $1 AND created_ms <= $2")
        .bind(text(user))
        .bind(r.created_ms - INSTALLATION_LIFE_MS)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO installation_requests (user_id, key_id, name, public, created_ms) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, key_id) DO UPDATE SET name = excluded.name, \
         public = excluded.public, created_ms = excluded.created_ms",
    )
    .bind(text(user))
    .bind(&r.key_id)
    .bind(&r.name)
    .bind(&r.public)
    .bind(r.created_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The user's live requests, newest first.
pub async fn installations(db: &Db, user: &Uuid, now_ms: i64) -> Result<Vec<InstallationRow>> {
    let rows = sqlx::query(
        "SELECT key_id, name, public, created_ms FROM installation_requests \
         WHERE user_id = $1 AND created_ms > $2 ORDER BY created_ms DESC, key_id",
    )
    .bind(text(user))
    .bind(now_ms - INSTALLATION_LIFE_MS)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(InstallationRow {
                key_id: r.try_get("key_id")?,
                name: r.try_get("name")?,
                public: r.try_get("public")?,
                created_ms: r.try_get("created_ms")?,
            })
        })
        .collect()
}

/// Dismiss a live request of the user: false when there is none.
pub async fn dismiss_installation(db: &Db, user: &Uuid, key_id: &str, now_ms: i64) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query(
            "DELETE FROM installation_requests WHERE user_id = $1 AND key_id = $2 AND created_ms > $3",
        )
        .bind(text(user))
        .bind(key_id)
        .bind(now_ms - INSTALLATION_LIFE_MS),
    )
    .await
}
