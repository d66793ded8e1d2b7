//! The metadata database: one sqlx `Any` pool over SQLite (embedded) or PostgreSQL.
//!
//! All SQL in the service is portable: `$1…` placeholders in ascending order of first use,
//! TEXT ids, BIGINT unix milliseconds, 0/1 integer flags, `RETURNING` where needed, and
//! compare-and-set `UPDATE … WHERE` for anything two instances could race on (activation,
//! pairing claims, clip claims). Only the DDL differs, so there is one migration set per
//! backend (`migrations/sqlite`, `migrations/postgres`), kept in step by hand.

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

/// The pool plus what it runs on.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
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
        Ok(Self { pool, backend })
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
