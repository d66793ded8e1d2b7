//! Figures for `docs/capacity.md`: Eyrie on its distributed engines (the test kit's
//! `Cluster`: PostgreSQL, 3 Garage nodes, mosquitto, two `eyrie cloud` processes, HAProxy)
//! under the load generator. The last line printed is one JSON object:
//!
//! - `cloud_cpu_us_per_camera_s`: CPU time of the cloud processes (user + system, from
//!   /proc) per second of simulated camera life, during the load (everything the cloud
//!   does: heartbeats, slots, notices, events, snapshots, the viewers' requests, clips);
//! - `db_bytes_per_camera_day`: growth of the PostgreSQL database per camera-day;
//! - `api_p99_ms_200cams`: p99 of every API operation of the load run (PUTs to the store
//!   excluded: they do not touch the cloud);
//! - `list_24h_p50_ms_10m_rows`: the 24-hour listing of one channel (2,880 segments)
//!   through the API with `rows` recordings in PostgreSQL;
//! - `retention_rows_per_s`: expired rows deleted and their objects queued per second
//!   (the data layer's batches of 5,000).
//!
//! `cargo bench --bench cluster`; EYRIE_BENCH_CAMERAS (200),
//! EYRIE_BENCH_VIEWERS (20), EYRIE_BENCH_SIM_HOURS (1), EYRIE_BENCH_TIME_SCALE (120),
//! EYRIE_BENCH_ROWS (10,000,000) change the run. The machine's cores are shared by every
//! process of the cluster and by the load generator itself.

use std::time::{Duration, Instant};

use eyrie_cloud::db::{self, Db};
use eyrie_testkit::cluster::load::{self, LoadOptions};
use eyrie_testkit::cluster::{Cluster, ClusterOptions};
use serde_json::json;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU seconds of a process so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat; after the command name, indexes 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

async fn db_bytes(db: &str) -> i64 {
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(db)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&mut c)
        .await
        .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if eyrie_testkit::garage::binary().is_none() {
        eprintln!("cluster bench: the `garage` binary is not installed (build-aux/setup)");
        std::process::exit(1);
    }
    let cameras: usize = env_or("EYRIE_BENCH_CAMERAS", 200);
    let viewers: usize = env_or("EYRIE_BENCH_VIEWERS", 20);
    let hours: f64 = env_or("EYRIE_BENCH_SIM_HOURS", 1.0);
    let scale: f64 = env_or("EYRIE_BENCH_TIME_SCALE", 120.0);
    let rows: i64 = env_or("EYRIE_BENCH_ROWS", 10_000_000);
    let db_url = eyrie_testkit::postgres::database().await;
    let mut options = ClusterOptions::new(env!("CARGO_BIN_EXE_eyrie"));
    // Retention is measured on its own below, not by the instances meanwhile.
    options.extra_env = vec![("EYRIE_RETENTION_DAYS".into(), "0".into())];
    let cluster = Cluster::start(options, db_url.clone())
        .await
        .expect("cluster");
    let url = cluster.url();

    // 1. The load run.
    let o = LoadOptions {
        cameras,
        viewers,
        sim: Duration::from_secs_f64(hours * 3600.0),
        time_scale: scale,
        segment: Duration::from_secs(30),
        segment_bytes: 64 * 1024,
    };
    let pids: Vec<u32> = cluster.instances.iter().filter_map(|i| i.pid()).collect();
    let cpu0: f64 = pids.iter().map(|p| cpu_secs(*p)).sum();
    let bytes0 = db_bytes(&db_url).await;
    let report = load::run(&url, &o).await;
    let cpu = pids.iter().map(|p| cpu_secs(*p)).sum::<f64>() - cpu0;
    let bytes = db_bytes(&db_url).await - bytes0;
    eprintln!("{}", report.text());
    let problems = load::verify(&url, &report, Duration::from_secs(120)).await;
    if !report.errors.is_empty() || !problems.is_empty() {
        eprintln!("cluster bench: the run had errors or lost data: {problems:#?}");
        std::process::exit(1);
    }
    let camera_secs = cameras as f64 * hours * 3600.0;
    let cpu_us_per_camera_s = cpu * 1e6 / camera_secs;
    let db_per_camera_day = bytes as f64 / (cameras as f64 * hours / 24.0);
    let mut api: Vec<f64> = report
        .latencies
        .iter()
        .filter(|(op, _)| **op != "put")
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    api.sort_by(f64::total_cmp);
    let api_p99 = api[((api.len() - 1) as f64 * 0.99) as usize];

    // 2. The listing with `rows` recordings: one real channel, 30-s segments going back
    // rows / 2,880 days, inserted by PostgreSQL itself.
    let api_client = eyrie_testkit::cluster::client::Client::new(&url);
    let token = api_client.user("bench-lister").await.unwrap();
    let creds = api_client.device(&token, "bench").await.unwrap();
    let ch = creds["channels"]["main"].as_str().unwrap().to_owned();
    let now = eyrie_protocol::clock::unix_ms();
    let t_insert = Instant::now();
    {
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db_url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO recordings (id, channel_id, start_ms, end_ms, object_key, status, size, sha256, \
             event, created_ms, completed_ms) \
             SELECT md5(g::text)::uuid::text, '{ch}', {now} - g * 30000, {now} - g * 30000 + 30000, \
             'bench/' || g, 'complete', 65536, repeat('a', 64), 0, {now}, {now} \
             FROM generate_series(1::bigint, {rows}::bigint) AS g"
        )))
        .execute(&mut c)
        .await
        .unwrap();
        sqlx::query("ANALYZE recordings")
            .execute(&mut c)
            .await
            .unwrap();
    }
    eprintln!(
        "cluster bench: {rows} rows inserted in {:.0} s",
        t_insert.elapsed().as_secs_f64()
    );
    let day = 24 * 3600 * 1000;
    let mut list = Vec::new();
    for i in 0..30 {
        let end = now - i * day;
        let path = format!(
            "/api/v1/channels/{ch}/recordings?start_ms={}&end_ms={end}",
            end - day
        );
        let t = Instant::now();
        let v = api_client
            .expect(reqwest::Method::GET, &path, Some(&token), None, 200)
            .await
            .unwrap();
        list.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(v["recordings"].as_array().unwrap().len() >= 2879);
    }
    list.sort_by(f64::total_cmp);
    let list_p50 = list[list.len() / 2];

    // 3. Retention: the oldest tenth of the rows (at least 100,000) expired at once.
    let db = Db::connect(&db_url).await.unwrap();
    let expire = (rows / 10).max(100_000.min(rows));
    let cutoff = now - (rows - expire) * 30_000;
    let before = db::retention::recording_rows(&db).await.unwrap();
    let t = Instant::now();
    let mut removed = 0usize;
    loop {
        let n = db::retention::expire_recordings(&db, cutoff, db::retention::MAX_BATCH, now)
            .await
            .unwrap();
        if n == 0 {
            break;
        }
        removed += n;
    }
    let retention_rows_per_s = removed as f64 / t.elapsed().as_secs_f64();
    eprintln!(
        "cluster bench: retention removed {removed} of {before} rows, {} left",
        db::retention::recording_rows(&db).await.unwrap()
    );

    println!(
        "{}",
        json!({
            "cloud_cpu_us_per_camera_s": (cpu_us_per_camera_s * 10.0).round() / 10.0,
            "db_bytes_per_camera_day": db_per_camera_day.round(),
            "list_24h_p50_ms_10m_rows": (list_p50 * 10.0).round() / 10.0,
            "retention_rows_per_s": retention_rows_per_s.round(),
            "api_p99_ms_200cams": (api_p99 * 10.0).round() / 10.0,
            "cameras": cameras,
            "viewers": viewers,
            "sim_hours": hours,
            "time_scale": scale,
            "rows": rows,
            "load_errors": report.errors.len(),
            "throughput_ops_s": report.throughput().round(),
        })
    );
}
