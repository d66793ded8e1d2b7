//! One PostgreSQL server per test binary, a fresh database per test.
//!
//! `initdb` refuses to run as root, so the cluster is made and run as the `postgres` user
//! in a temporary directory, on a random loopback port, with trust authentication and
//! `fsync=off` (a test database need not survive a power cut).

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::net::{free_port, wait_port};
use crate::process::Guarded;

struct Server {
    port: u16,
    _process: Guarded,
    _dir: tempfile::TempDir,
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// The newest installed PostgreSQL's `bin` directory.
fn bin_dir() -> Option<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    found.sort();
    found.pop().filter(|p| p.join("initdb").exists())
}

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let bin = bin_dir().expect("PostgreSQL is not installed (apt install postgresql)");
        let dir = tempfile::Builder::new()
            .prefix("eyrie-pg")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let data = dir.path().join("data");
        Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .expect("chown");
        let ok = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb")
            .success();
        assert!(ok, "initdb failed");
        let port = free_port();
        let server = format!(
            "{} -D {} -p {port} -h 127.0.0.1 -k {d} -c fsync=off -c max_connections=300 >{d}/log 2>&1",
            bin.join("postgres").display(),
            data.display(),
            d = dir.path().display(),
        );
        let process = Guarded::spawn(
            &["runuser", "-u", "postgres", "--"],
            &server,
            "INT",
            dir.path(),
            &[],
        );
        assert!(
            wait_port(port, Duration::from_secs(30)),
            "postgres did not start"
        );
        Server {
            port,
            _process: process,
            _dir: dir,
        }
    })
}

/// The URL of a fresh, empty database on this test binary's server.
pub async fn database() -> String {
    let port = server().port;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let mut last = None;
    for _ in 0..50 {
        match <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await {
            Ok(mut c) => {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut c)
                    .await
                    .expect("create database");
                return format!("postgres://postgres@127.0.0.1:{port}/{name}");
            }
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("cannot connect to the test PostgreSQL: {last:?}");
}
