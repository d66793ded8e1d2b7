//! Background work shared by N instances through the database, on both engines: a job
//! lease has one holder until it runs out, clips are claimed one per instance (never
//! twice), a claim is kept by renewing it and taken over once it lapses, and retention
//! takes rows and queues their objects in batches.

use crate::common;

use common::Backend;
use eyrie_cloud::db::{self, Db, devices::NewDevice, leases, retention};
use eyrie_protocol::api::ClipStatus;
use uuid::Uuid;

const NOW: i64 = 1_700_000_000_000;

async fn fresh(backend: Backend) -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = match backend {
        Backend::Sqlite => Db::sqlite_url(dir.path()),
        Backend::Postgres => common::pg_database().await,
    };
    (Db::connect(&url).await.expect("connect"), dir)
}

/// A user with one device; its main channel.
async fn channel(db: &Db) -> (Uuid, Uuid, Uuid) {
    let u = db::accounts::UserRow {
        id: db::new_id(),
        username: "alice".into(),
        created_ms: NOW,
    };
    db::accounts::create_user(db, &u, "alice", "phc")
        .await
        .unwrap();
    let d = db::devices::create(
        db,
        &NewDevice {
            owner: &u.id,
            name: "Porch",
            activation_code_hash: None,
            activation_expires_ms: NOW + 1000,
            now_ms: NOW,
        },
    )
    .await
    .unwrap();
    let ch = db::devices::channels(db, &d.id).await.unwrap()[0].id;
    (u.id, d.id, ch)
}

async fn job_leases_have_one_holder_until_they_run_out(backend: Backend) {
    let (db, _dir) = fresh(backend).await;
    assert!(
        leases::take(&db, "retention", "a", NOW, NOW + 30_000)
            .await
            .unwrap()
    );
    assert!(
        !leases::take(&db, "retention", "b", NOW + 1, NOW + 30_001)
            .await
            .unwrap()
    );
    // Another job is free.
    assert!(
        leases::take(&db, "reconcile", "b", NOW + 1, NOW + 30_001)
            .await
            .unwrap()
    );
    // The holder renews; the other still cannot take it before it runs out.
    assert!(
        leases::take(&db, "retention", "a", NOW + 20_000, NOW + 50_000)
            .await
            .unwrap()
    );
    assert!(
        !leases::take(&db, "retention", "b", NOW + 40_000, NOW + 70_000)
            .await
            .unwrap()
    );
    // `a` died: once the lease ran out, `b` has it, and `a` coming back does not.
    assert!(
        leases::take(&db, "retention", "b", NOW + 50_001, NOW + 80_000)
            .await
            .unwrap()
    );
    assert!(
        !leases::take(&db, "retention", "a", NOW + 50_002, NOW + 80_000)
            .await
            .unwrap()
    );
    assert_eq!(
        leases::holder(&db, "retention").await.unwrap(),
        Some(("b".into(), NOW + 80_000))
    );
    // A stopping holder gives it back; only its own.
    leases::release(&db, "retention", "a").await.unwrap();
    assert!(leases::holder(&db, "retention").await.unwrap().is_some());
    leases::release(&db, "retention", "b").await.unwrap();
    assert!(
        leases::take(&db, "retention", "a", NOW + 50_003, NOW + 80_000)
            .await
            .unwrap()
    );
}
both_backends!(job_leases_have_one_holder_until_they_run_out);

async fn clips_are_claimed_once_each_and_taken_over_when_a_claim_lapses(backend: Backend) {
    let (db, _dir) = fresh(backend).await;
    let (owner, device, ch) = channel(&db).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let clip = db::clips::ClipRow {
            id: db::new_id(),
            channel_id: ch,
            device_id: device,
            owner_id: owner,
            name: None,
            start_ms: NOW - 60_000,
            end_ms: NOW,
            status: ClipStatus::InProgress,
            reason: None,
            object_key: format!("k/clip{i}"),
            size: None,
            parts: vec![],
            created_ms: NOW + i,
            finished_ms: None,
            deadline_ms: NOW + 100_000,
        };
        db::clips::insert(&db, &clip).await.unwrap();
        ids.push(clip.id);
    }
    let claim = |who: &'static str, now: i64| {
        let db = db.clone();
        async move {
            leases::claim_clip(&db, who, now, now + 30_000)
                .await
                .unwrap()
        }
    };
    // Oldest first, a different clip for each claim, then none.
    assert_eq!(claim("a", NOW).await, Some(ids[0]));
    assert_eq!(claim("b", NOW).await, Some(ids[1]));
    assert_eq!(claim("a", NOW).await, Some(ids[2]));
    assert_eq!(claim("b", NOW).await, None);
    // Only the holder renews.
    assert!(
        leases::renew_clip(&db, &ids[0], "a", NOW + 60_000)
            .await
            .unwrap()
    );
    assert!(
        !leases::renew_clip(&db, &ids[0], "b", NOW + 60_000)
            .await
            .unwrap()
    );
    // `b` finishes its clip; `a` stops renewing clip 2 (it died): `b` takes it over
    // after the lease, not before, and clip 0, still renewed, stays with `a`.
    assert!(
        db::clips::finish(&db, &ids[1], "b", 10, &[], NOW + 1)
            .await
            .unwrap()
    );
    assert_eq!(claim("b", NOW + 29_000).await, None);
    assert_eq!(claim("b", NOW + 30_001).await, Some(ids[2]));
    assert!(
        !leases::renew_clip(&db, &ids[2], "a", NOW + 90_000)
            .await
            .unwrap()
    );
    // The dead holder cannot finish what it lost; the new one does, once.
    assert!(
        !db::clips::finish(&db, &ids[2], "a", 10, &[], NOW + 31_000)
            .await
            .unwrap()
    );
    assert!(
        db::clips::finish(&db, &ids[2], "b", 10, &[], NOW + 31_000)
            .await
            .unwrap()
    );
    assert!(
        !db::clips::finish(&db, &ids[2], "b", 10, &[], NOW + 31_001)
            .await
            .unwrap()
    );
    assert_eq!(claim("b", NOW + 31_000).await, None);
}
both_backends!(clips_are_claimed_once_each_and_taken_over_when_a_claim_lapses);

async fn retention_takes_rows_and_queues_objects_in_batches(backend: Backend) {
    let (db, _dir) = fresh(backend).await;
    let (_, _, ch) = channel(&db).await;
    let day = 24 * 3600 * 1000;
    let rows = |from: i64, n: i64, tag: &str| -> Vec<(Uuid, i64, i64, u64, String)> {
        (0..n)
            .map(|i| {
                let start = from + i * 30_000;
                (
                    db::new_id(),
                    start,
                    start + 30_000,
                    100,
                    format!("rec/{tag}/{i}"),
                )
            })
            .collect()
    };
    db::recordings::insert_complete(&db, &ch, &rows(NOW - 40 * day, 5_000, "old"), NOW)
        .await
        .unwrap();
    db::recordings::insert_complete(&db, &ch, &rows(NOW - day, 50, "new"), NOW)
        .await
        .unwrap();
    let cutoff = NOW - 30 * day;
    let mut batches = Vec::new();
    loop {
        let n = retention::expire_recordings(&db, cutoff, 2000, NOW)
            .await
            .unwrap();
        if n == 0 {
            break;
        }
        batches.push(n);
    }
    assert_eq!(batches, [2000, 2000, 1000]);
    assert_eq!(
        retention::recording_rows(&db).await.unwrap(),
        50,
        "recent rows stay"
    );
    let queued = db::deletions::oldest(&db, 20_000).await.unwrap();
    assert_eq!(queued.len(), 5_000);
    assert!(queued.iter().all(|k| k.starts_with("rec/old/")));
    retention::deletions_done(&db, &queued[..4_000])
        .await
        .unwrap();
    assert_eq!(
        db::deletions::oldest(&db, 20_000).await.unwrap().len(),
        1000
    );
}
both_backends!(retention_takes_rows_and_queues_objects_in_batches);
