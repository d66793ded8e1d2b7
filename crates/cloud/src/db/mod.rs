//! The metadata database: every SQL statement of the service lives under this module.
//!
//! Routes validate a request and call one function here; the workers do the same. A
//! function is named for what it does (`clips::claim`, `recordings::mark_complete`), takes
//! typed arguments (UUIDs, not strings) and returns typed rows ([`devices::DeviceRow`],
//! [`clips::ClipRow`], …) decoded here, so no caller sees a column name. Where several
//! statements must hold together — a device and its channels, a deleted row and its
//! object queued for deletion, an activation and its first recording key — the function
//! runs them in one transaction.
//!
//! ```text
//!  routes/* ──┐                       ┌─ accounts   users, sessions, login failures
//!             ├─► db::<family>::fn ───┼─ devices    devices, channels
//!  workers/* ─┘     (Db: Any pool +   ├─ pairings   camera-first set-up
//!                    typed pool)      ├─ keys       recording keys, device secrets
//!                                     ├─ e2e        key sets, pairing checks, content keys
//!                                     ├─ live       viewer broker logins
//!                                     ├─ recordings recordings (+ the listing)
//!                                     ├─ events     timeline markers
//!                                     ├─ clips      clips and their claims
//!                                     ├─ leases     job leases, clip claims (N instances)
//!                                     ├─ retention  expiry in batches
//!                                     ├─ snapshots  snapshots
//!                                     └─ deletions  the object deletion queue
//! ```
//!
//! One sqlx `Any` pool runs over SQLite (embedded) or PostgreSQL, and all SQL is portable:
//! `$1…` placeholders in ascending order of first use, TEXT ids, BIGINT unix milliseconds,
//! 0/1 integer flags, `RETURNING` where needed, and compare-and-set `UPDATE … WHERE` for
//! anything two instances could race on (activation, pairing claims, clip claims). Only
//! the DDL differs, so there is one migration set per backend (`migrations/sqlite`,
//! `migrations/postgres`), kept in step by hand.
//!
//! The `Any` driver converts every row into its own boxed form (values copied, a column
//! list and a name map per row), which is fine for the one-row queries of most handlers
//! but dominated the 24-hour listing (2,880 rows). So [`Db`] also holds a typed pool of
//! the same database, [`Typed`], for the one query that returns many rows
//! ([`recordings::complete_in_range`]).
//!
//! Failures are one [`Error`]: a unique constraint hit is [`Error::Duplicate`] (the caller
//! decides what that means: a taken user name, a pairing code to draw again), a stored
//! value that does not read back is [`Error::Corrupt`], anything else is the driver's.

pub mod accounts;
pub mod clips;
pub mod deletions;
pub mod devices;
pub mod e2e;
pub mod events;
pub mod keys;
pub mod leases;
pub mod live;
pub mod pairings;
pub mod recordings;
pub mod retention;
pub mod snapshots;

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyQueryResult, AnyRow};
use sqlx::{AnyPool, Row as _};
use uuid::Uuid;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A typed pool of the same database, for queries returning many rows.
#[derive(Debug, Clone)]
pub enum Typed {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// The pool plus what it runs on.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// The same database through the engine's own driver (see the module text).
    typed: Typed,
}

/// A failure of the data layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A row with the same unique value already exists.
    #[error("a row with this unique value already exists")]
    Duplicate,
    /// A stored value does not read back as its type (a bad id, an unknown store mode).
    #[error("stored {0} is unreadable")]
    Corrupt(&'static str),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

impl Error {
    /// The database could not be reached (as opposed to refusing or failing a statement).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Error::Sqlx(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
        )
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl Db {
    /// Begin a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a plain `BEGIN` that reads and then writes fails at once with
    /// "database is locked" when another connection committed in between (in WAL mode the
    /// busy timeout does not cover that upgrade), which under a camera's steady uploads
    /// turned an admission's rewrap into a 500. Now it waits its turn like any writer.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Connect and run the migrations. `url` is `sqlite://…` or `postgres://…`.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("unsupported database URL scheme (use sqlite:// or postgres://)");
        };
        let opts = AnyConnectOptions::from_str(url)?;
        let max = if backend == Backend::Sqlite { 4 } else { 16 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        if backend == Backend::Sqlite {
            // Write-ahead log: readers and the one writer no longer wait for each other
            // (with the default rollback journal a writer waits for every reader to let
            // go, and under a burst of logins that wait ran past the busy timeout as
            // "database is locked"). The mode is kept in the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        match backend {
            Backend::Sqlite => SQLITE.run(&pool).await?,
            Backend::Postgres => POSTGRES.run(&pool).await?,
        }
        let typed = match backend {
            Backend::Sqlite => Typed::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(
                        // Rows come from a worker thread through a bounded channel (50 by
                        // default); a day's listing then parks and wakes that thread ~60
                        // times. Room for a whole listing lets it run through.
                        sqlx::sqlite::SqliteConnectOptions::from_str(url)?.row_buffer_size(4096),
                    )
                    .await?,
            ),
            Backend::Postgres => Typed::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(max / 2)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(sqlx::postgres::PgConnectOptions::from_str(url)?)
                    .await?,
            ),
        };
        Ok(Self {
            pool,
            backend,
            typed,
        })
    }

    /// SQLite file URL for a data directory.
    pub fn sqlite_url(dir: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", dir.join("eyrie.db").display())
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers (the health check).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// A fresh id in the form ids are stored.
pub fn new_id() -> Uuid {
    Uuid::new_v4()
}

/// Run a compare-and-set `UPDATE`: true when it changed exactly one row, i.e. this call
/// won (a claim, a completion) and nobody had got there first.
async fn changed_one(
    db: &Db,
    query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
) -> Result<bool> {
    Ok(query.execute(&db.pool).await?.rows_affected() == 1)
}

/// An object whose upload is not confirmed yet (a recording still `uploading`, a snapshot
/// still `pending`): what the reconciler needs to look for it in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unconfirmed {
    pub id: Uuid,
    pub object_key: String,
    pub created_ms: i64,
}

impl Unconfirmed {
    /// From a row of `id, object_key, created_ms`.
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Unconfirmed {
            id: uuid_at(r, "id")?,
            object_key: r.try_get("object_key")?,
            created_ms: r.try_get("created_ms")?,
        })
    }
}

/// An id as it is stored (lower-case hyphenated text).
fn text(id: &Uuid) -> String {
    id.to_string()
}

/// Read a stored id.
fn uuid_at(r: &AnyRow, col: &'static str) -> Result<Uuid> {
    r.try_get::<String, _>(col)?
        .parse()
        .map_err(|_| Error::Corrupt(col))
}

/// Read a stored 0/1 flag.
fn flag_at(r: &AnyRow, col: &'static str) -> Result<bool> {
    Ok(r.try_get::<i64, _>(col)? != 0)
}

/// Read a stored size (never negative on the way out).
fn size_at(r: &AnyRow, col: &'static str) -> Result<Option<u64>> {
    Ok(r.try_get::<Option<i64>, _>(col)?.map(|s| s.max(0) as u64))
}

/// A size as it is stored.
fn stored_size(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// The outcome of an `INSERT`, with a unique-constraint hit as [`Error::Duplicate`].
fn inserted(res: std::result::Result<AnyQueryResult, sqlx::Error>) -> Result<()> {
    match res {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::Duplicate),
        Err(e) => Err(e.into()),
    }
}
