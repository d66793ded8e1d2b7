//! The metadata database: one sqlx `Any` pool over SQLite (embedded) or PostgreSQL.
//!
//! All SQL in the service is portable: `$1…` placeholders in ascending order of first use,
//! TEXT ids, BIGINT unix milliseconds, 0/1 integer flags, `RETURNING` where needed, and
//! compare-and-set `UPDATE … WHERE` for anything two instances could race on (activation,
//! pairing claims, clip claims). Only the DDL differs, so there is one migration set per
//! backend (`migrations/sqlite`, `migrations/postgres`), kept in step by hand.
//!
//! The `Any` driver converts every row into its own boxed form (values copied, a column
//! list and a name map per row), which is fine for the one-row queries of most handlers
//! but dominated the 24-hour listing (2,880 rows). So [`Db`] also holds a typed pool of
//! the same database, [`Typed`], for the few queries that return many rows; they use the
//! same portable SQL, run through [`typed_fetch_all!`](crate::typed_fetch_all) on
//! whichever engine is behind it.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

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
    pub pool: AnyPool,
    pub backend: Backend,
    /// The same database through the engine's own driver (see the module text).
    pub typed: Typed,
}

/// `typed_fetch_all!(db, RowType, sql, binds…)`: run one portable query on the typed pool
/// and decode the rows as `RowType` (a tuple or `FromRow` type valid for both engines).
#[macro_export]
macro_rules! typed_fetch_all {
    ($db:expr, $row:ty, $sql:expr $(, $bind:expr)* $(,)?) => {
        match &$db.typed {
            $crate::db::Typed::Sqlite(pool) => {
                sqlx::query_as::<_, $row>($sql)$(.bind($bind))*.fetch_all(pool).await
            }
            $crate::db::Typed::Postgres(pool) => {
                sqlx::query_as::<_, $row>($sql)$(.bind($bind))*.fetch_all(pool).await
            }
        }
    };
}

impl Db {
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
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

/// Unix seconds now.
pub fn now_s() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A fresh id in the form ids are stored.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
