//! Two cloud instances on one PostgreSQL database and one store: a clip is assembled by
//! exactly one of them. (Own test binary: it reads the process-wide metrics counters.)

use crate::common;

use std::time::Duration;

use common::{Backend, TestCloud, unix_ms};
use eyrie_cloud::StoreConfig;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_is_claimed_by_one_instance() {
    let a = TestCloud::spawn_with(Backend::Postgres, |c| c.tick = Duration::from_millis(20)).await;
    let url = a.database_url.clone();
    let s3 = a.s3.clone();
    let b = TestCloud::spawn_with(Backend::Sqlite, move |c| {
        c.database_url = url;
        c.store = StoreConfig::External(s3);
        c.tick = Duration::from_millis(20);
    })
    .await;
    let (_, alice) = a.user("alice").await;
    let creds = a.device(&alice, "Porch").await;
    let ch = creds["channels"]["main"].as_str().unwrap();
    let t0 = unix_ms() - 300_000;
    for i in 0..4 {
        a.segment(
            &creds,
            t0 + i * 10_000,
            t0 + (i + 1) * 10_000,
            &vec![i as u8; 200_000],
        )
        .await;
    }
    let before = eyrie_cloud::metrics::CLIPS_FINISHED.get();
    let mut ids = Vec::new();
    for k in 0..6 {
        // Alternate instances; both workers race for every clip.
        let app = if k % 2 == 0 { &a } else { &b };
        let (s, c) = app
            .post(
                &format!("/api/v1/channels/{ch}/clips"),
                Some(&alice),
                json!({"start_ms": t0, "end_ms": t0 + 40_000}),
            )
            .await;
        assert_eq!(s, 202);
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let t = std::time::Instant::now();
        loop {
            let (_, c) = b.get(&format!("/api/v1/clips/{id}"), Some(&alice)).await;
            if c["status"] == "finished" {
                assert_eq!(c["size"], 800_000);
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "clip not finished: {c}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        eyrie_cloud::metrics::CLIPS_FINISHED.get() - before,
        ids.len() as u64,
        "each clip finished exactly once"
    );
}

async fn login(app: &common::TestCloud, password: &str) -> common::Reply {
    app.post(
        "/api/v1/login",
        None,
        json!({"username": "alice", "password": password}),
    )
    .await
}

/// Two instances on one database share the login rate limit: failures counted on one
/// limit logins on the other.
async fn login_rate_limit_is_shared(backend: Backend) {
    let a = TestCloud::spawn_with(backend, |_| {}).await;
    let url = a.database_url.clone().or_else(|| {
        // SQLite: the second instance opens the first one's file.
        Some(eyrie_cloud::db::Db::sqlite_url(&a.state.config.data_dir))
    });
    let s3 = a.s3.clone();
    let b = TestCloud::spawn_with(Backend::Sqlite, move |c| {
        c.database_url = url;
        c.store = StoreConfig::External(s3);
    })
    .await;
    a.user("alice").await;
    assert_eq!(login(&b, "correct horse").await.0, 200, "b logs in");
    for k in 0..5 {
        let app = if k % 2 == 0 { &a } else { &b };
        let (s, v) = login(app, "wrong one").await;
        assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")));
    }
    for app in [&a, &b] {
        let (s, v) = login(app, "correct horse").await;
        assert_eq!(
            (s, v["code"].as_str()),
            (429, Some("too_many_requests")),
            "both instances refuse: {v}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_rate_limit_is_shared_sqlite() {
    login_rate_limit_is_shared(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_rate_limit_is_shared_postgres() {
    login_rate_limit_is_shared(Backend::Postgres).await;
}
