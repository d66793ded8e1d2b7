//! The data layer on its own, on both engines: constraint hits come back as the right
//! error, the compare-and-set steps let one caller win, transactions leave nothing half
//! done, and the two listing paths (SQLite's joined text, PostgreSQL's typed rows) give
//! the same rows.

use crate::common;

use common::Backend;
use eyrie_cloud::db::{self, Db, devices::NewDevice, keys::NewKey};
use eyrie_protocol::api::{ClipStatus, RecordingPolicy};
use uuid::Uuid;

const NOW: i64 = 1_700_000_000_000;

/// A fresh database of the given engine (the TempDir keeps a SQLite file alive).
async fn fresh(backend: Backend) -> (Db, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = match backend {
        Backend::Sqlite => Db::sqlite_url(dir.path()),
        Backend::Postgres => common::pg_database().await,
    };
    let db = Db::connect(&url).await.expect("connect");
    (db, url, dir)
}

async fn user(db: &Db, name: &str) -> Uuid {
    let u = db::accounts::UserRow {
        id: db::new_id(),
        username: name.into(),
        created_ms: NOW,
    };
    db::accounts::create_user(db, &u, &name.to_lowercase(), "phc")
        .await
        .expect("create user");
    u.id
}

fn new_device<'a>(owner: &'a Uuid, name: &'a str) -> NewDevice<'a> {
    NewDevice {
        owner,
        name,
        activation_code_hash: None,
        activation_expires_ms: NOW + 1000,
        now_ms: NOW,
    }
}

async fn taken_names_and_codes_are_duplicates(backend: Backend) {
    let (db, _, _dir) = fresh(backend).await;
    user(&db, "Alice").await;
    let again = db::accounts::UserRow {
        id: db::new_id(),
        username: "ALICE".into(),
        created_ms: NOW,
    };
    let err = db::accounts::create_user(&db, &again, "alice", "phc")
        .await
        .expect_err("a second alice");
    assert!(matches!(err, db::Error::Duplicate), "{err:?}");
    db::pairings::create(&db, "t1", "ABCD2345", None, NOW)
        .await
        .unwrap();
    let err = db::pairings::create(&db, "t2", "ABCD2345", None, NOW)
        .await
        .expect_err("the same code twice");
    assert!(matches!(err, db::Error::Duplicate), "{err:?}");
    // A duplicate changed nothing: the first pairing is still the unclaimed one.
    let p = db::pairings::by_code(&db, "ABCD2345")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.device_id, p.consumed, p.expires_ms), (None, false, NOW));
    assert!(db::pairings::by_token(&db, "t2").await.unwrap().is_none());
}
both_backends!(taken_names_and_codes_are_duplicates);

async fn a_pairing_is_claimed_once_and_the_loser_leaves_nothing(backend: Backend) {
    let (db, _, _dir) = fresh(backend).await;
    let (alice, bob) = (user(&db, "alice").await, user(&db, "bob").await);
    db::pairings::create(&db, "tok", "CODE2345", None, NOW + 60_000)
        .await
        .unwrap();
    let won = db::pairings::claim(&db, "CODE2345", &new_device(&alice, "Porch"))
        .await
        .unwrap()
        .expect("first claim wins");
    let lost = db::pairings::claim(&db, "CODE2345", &new_device(&bob, "Mine"))
        .await
        .unwrap();
    assert!(lost.is_none());
    assert!(
        db::devices::list_for_owner(&db, &bob)
            .await
            .unwrap()
            .is_empty()
    );
    let p = db::pairings::by_token(&db, "tok").await.unwrap().unwrap();
    assert_eq!(p.device_id, Some(won.id));
    assert_eq!(db::devices::channels(&db, &won.id).await.unwrap().len(), 2);
    assert!(db::pairings::consume(&db, "tok").await.unwrap());
    assert!(!db::pairings::consume(&db, "tok").await.unwrap());
}
both_backends!(a_pairing_is_claimed_once_and_the_loser_leaves_nothing);

async fn activation_happens_once_with_one_key(backend: Backend) {
    let (db, _, _dir) = fresh(backend).await;
    let alice = user(&db, "alice").await;
    let d = db::devices::create(&db, &new_device(&alice, "Porch"))
        .await
        .unwrap();
    let key = |id: &str| NewKey {
        key_id: id.into(),
        key_sealed: "sealed".into(),
        created_ms: NOW,
    };
    let activation = |k| db::devices::Activation {
        token_hash: "th",
        secret_sealed: "ss",
        mqtt_password_hash: "mh",
        now_ms: NOW,
        key: Some(k),
    };
    let (k1, k2) = (key("k1"), key("k2"));
    assert!(
        db::devices::activate(&db, &d.id, &activation(&k1))
            .await
            .unwrap()
    );
    assert!(
        !db::devices::activate(&db, &d.id, &activation(&k2))
            .await
            .unwrap()
    );
    let keys = db::keys::recording_keys(&db, &d.id).await.unwrap();
    assert_eq!(keys, vec![k1]);
    assert_eq!(
        db::devices::by_token(&db, "th").await.unwrap(),
        Some((d.id, Some(NOW)))
    );
    assert!(
        db::devices::mqtt_password_matches(&db, &d.id, "mh")
            .await
            .unwrap()
    );
    assert!(
        !db::devices::mqtt_password_matches(&db, &d.id, "xx")
            .await
            .unwrap()
    );
    assert_eq!(
        db::keys::device_secret(&db, &d.id)
            .await
            .unwrap()
            .as_deref(),
        Some("ss")
    );
}
both_backends!(activation_happens_once_with_one_key);

async fn a_snapshot_request_is_taken_by_one_heartbeat(backend: Backend) {
    let (db, _, _dir) = fresh(backend).await;
    let alice = user(&db, "alice").await;
    let d = db::devices::create(&db, &new_device(&alice, "Porch"))
        .await
        .unwrap();
    assert_eq!(
        db::devices::heartbeat(&db, &d.id, NOW, 3).await.unwrap(),
        None
    );
    db::devices::request_snapshot(&db, &d.id, NOW + 5)
        .await
        .unwrap();
    assert_eq!(
        db::devices::heartbeat(&db, &d.id, NOW + 10, 3)
            .await
            .unwrap(),
        Some(NOW + 5)
    );
    assert_eq!(
        db::devices::heartbeat(&db, &d.id, NOW + 20, 4)
            .await
            .unwrap(),
        None
    );
    let row = db::devices::by_id(&db, &d.id).await.unwrap().unwrap();
    assert_eq!(
        (row.last_seen_ms, row.dropped_segments),
        (Some(NOW + 20), 4)
    );
}
both_backends!(a_snapshot_request_is_taken_by_one_heartbeat);

async fn clip_claims_belong_to_one_instance(backend: Backend) {
    let (db, _, _dir) = fresh(backend).await;
    let alice = user(&db, "alice").await;
    let d = db::devices::create(&db, &new_device(&alice, "Porch"))
        .await
        .unwrap();
    let ch = db::devices::channels(&db, &d.id).await.unwrap()[0].id;
    let clip = db::clips::ClipRow {
        id: db::new_id(),
        channel_id: ch,
        device_id: d.id,
        owner_id: alice,
        name: Some("door".into()),
        start_ms: NOW - 60_000,
        end_ms: NOW,
        status: ClipStatus::InProgress,
        reason: None,
        object_key: "k/clip".into(),
        size: None,
        parts: vec![],
        created_ms: NOW,
        finished_ms: None,
        deadline_ms: NOW + 1000,
    };
    db::clips::insert(&db, &clip).await.unwrap();
    assert_eq!(
        db::clips::waiting(&db, NOW, 8).await.unwrap(),
        vec![clip.id]
    );
    assert!(
        db::clips::claim(&db, &clip.id, "a", NOW, NOW + 500)
            .await
            .unwrap()
    );
    assert!(
        !db::clips::claim(&db, &clip.id, "b", NOW + 1, NOW + 501)
            .await
            .unwrap()
    );
    assert!(
        db::clips::waiting(&db, NOW + 1, 8)
            .await
            .unwrap()
            .is_empty()
    );
    // Only the holder may finish it; a lapsed claim is anyone's.
    assert!(
        !db::clips::finish(&db, &clip.id, "b", 10, &[], NOW + 2)
            .await
            .unwrap()
    );
    assert!(
        db::clips::claim(&db, &clip.id, "b", NOW + 600, NOW + 900)
            .await
            .unwrap()
    );
    assert!(
        !db::clips::fail(&db, &clip.id, "a", "late", NOW + 601)
            .await
            .unwrap()
    );
    assert!(
        db::clips::finish(&db, &clip.id, "b", 10, &[], NOW + 602)
            .await
            .unwrap()
    );
    let done = db::clips::for_owner(&db, &clip.id, &alice)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.status, done.size, done.finished_ms),
        (ClipStatus::Finished, Some(10), Some(NOW + 602))
    );
    assert!(
        db::clips::for_owner(&db, &clip.id, &d.id)
            .await
            .unwrap()
            .is_none()
    );
}
both_backends!(clip_claims_belong_to_one_instance);

async fn deleting_a_device_takes_its_rows_and_queues_its_objects(backend: Backend) {
    let (db, _, _dir) = fresh(backend).await;
    let alice = user(&db, "alice").await;
    let d = db::devices::create(&db, &new_device(&alice, "Porch"))
        .await
        .unwrap();
    let ch = db::devices::channels(&db, &d.id).await.unwrap()[0].id;
    let rows = vec![(db::new_id(), NOW - 30_000, NOW, 7, "k/r".to_owned())];
    db::recordings::insert_complete(&db, &ch, &rows, NOW)
        .await
        .unwrap();
    db::devices::delete(&db, &d.id, "d/prefix/", NOW)
        .await
        .unwrap();
    assert!(db::devices::by_id(&db, &d.id).await.unwrap().is_none());
    assert!(db::devices::channel(&db, &ch).await.unwrap().is_none());
    let listed = db::recordings::complete_in_range(&db, &ch, NOW - 60_000, NOW, 10)
        .await
        .unwrap();
    assert!(listed.is_empty());
    assert_eq!(db::deletions::oldest(&db, 10).await.unwrap(), ["d/prefix/"]);
    db::deletions::done(&db, "d/prefix/").await.unwrap();
    assert!(db::deletions::oldest(&db, 10).await.unwrap().is_empty());
}
both_backends!(deleting_a_device_takes_its_rows_and_queues_its_objects);

/// The same recordings, written the same way on both engines, list the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_list_the_same_rows() {
    let mut listings = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (db, _, _dir) = fresh(backend).await;
        let alice = user(&db, "alice").await;
        let d = db::devices::create(&db, &new_device(&alice, "Porch"))
            .await
            .unwrap();
        let ch = db::devices::channels(&db, &d.id).await.unwrap()[0].id;
        // Fixed ids, two segments starting together (ordered by id), one completed by
        // the reconciler (no digest), one with a key id, one still uploading.
        let id = |n: u128| Uuid::from_u128(n);
        let rows = vec![
            (id(3), NOW, NOW + 30_000, 30, "k/3".to_owned()),
            (id(2), NOW, NOW + 30_000, 20, "k/2".to_owned()),
            (id(1), NOW - 30_000, NOW, 10, "k/1".to_owned()),
        ];
        db::recordings::insert_complete(&db, &ch, &rows, NOW)
            .await
            .unwrap();
        for (n, start, key_id) in [(4, NOW + 30_000, Some("kid")), (5, NOW + 60_000, None)] {
            let slot = db::recordings::NewSlot {
                id: &id(n),
                channel: &ch,
                start_ms: start,
                end_ms: start + 30_000,
                object_key: &format!("k/{n}"),
                event: true,
                key_id,
                size: n as u64 * 10,
                sha256: &"ab".repeat(32),
                now_ms: NOW,
            };
            db::recordings::insert_slot(&db, &slot).await.unwrap();
        }
        assert!(
            !db::recordings::complete_found(&db, &id(5), 41, NOW)
                .await
                .unwrap(),
            "an object of another size than the slot announced does not complete it"
        );
        assert!(
            db::recordings::complete_found(&db, &id(4), 40, NOW)
                .await
                .unwrap()
        );
        assert!(
            !db::recordings::complete_found(&db, &id(4), 41, NOW)
                .await
                .unwrap()
        );
        let listed = db::recordings::complete_in_range(&db, &ch, NOW - 10_000, NOW + 120_000, 100)
            .await
            .unwrap();
        let uploading = db::recordings::uploading_before(&db, NOW + 1, 10)
            .await
            .unwrap();
        assert_eq!(uploading.len(), 1);
        assert_eq!(uploading[0].id, id(5));
        listings.push(
            listed
                .into_iter()
                .map(|(r, key)| {
                    assert_eq!(r.channel_id, ch);
                    (
                        r.id, r.start_ms, r.end_ms, r.size, r.sha256, r.event, r.key_id, key,
                    )
                })
                .collect::<Vec<_>>(),
        );
    }
    let ids: Vec<u128> = listings[0].iter().map(|r| r.0.as_u128()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_eq!(listings[0][3].4.as_deref(), Some("ab".repeat(32).as_str()));
    assert_eq!(listings[0][3].6.as_deref(), Some("kid"));
    assert!(listings[0][3].5);
    assert_eq!(listings[0], listings[1]);
}

/// A stored value that does not read back is reported as such, not as a default.
async fn an_unreadable_store_mode_is_corrupt(backend: Backend) {
    let (db, url, _dir) = fresh(backend).await;
    let alice = user(&db, "alice").await;
    let d = db::devices::create(&db, &new_device(&alice, "Porch"))
        .await
        .unwrap();
    assert_eq!(d.store_mode, RecordingPolicy::default());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("UPDATE devices SET store_mode = 'bogus' WHERE id = $1")
        .bind(d.id.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    let err = db::devices::by_id(&db, &d.id)
        .await
        .expect_err("bogus mode");
    assert!(matches!(err, db::Error::Corrupt("store_mode")), "{err:?}");
    assert!(!err.is_unavailable());
}
both_backends!(an_unreadable_store_mode_is_corrupt);

/// Writers that read first (adding wraps checks that the content key exists) beside
/// writers that only write (new content keys): each waits its turn. On SQLite a plain
/// deferred `BEGIN` failed the reading writer at once with "database is locked" whenever
/// another connection committed between its read and its write — seen as a 500 when the
/// web viewer's browser was admitted while the camera uploaded.
async fn writers_that_read_first_wait_their_turn(backend: Backend) {
    let (db, _, _dir) = fresh(backend).await;
    let alice = user(&db, "alice").await;
    let d = db::devices::create(&db, &new_device(&alice, "Porch"))
        .await
        .unwrap();
    let wrap = |viewer: &str| db::e2e::WrapRow {
        viewer_key_id: viewer.into(),
        enc: "enc".into(),
        ct: "ct".into(),
    };
    db::e2e::insert_content_key(&db, &d.id, "0000000000000000", NOW, 1, &[wrap("v0")])
        .await
        .unwrap();
    let db = std::sync::Arc::new(db);
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let (db, device) = (db.clone(), d.id);
        tasks.push(tokio::spawn(async move {
            for i in 0..25u32 {
                if t % 2 == 0 {
                    let viewer = format!("v{t}-{i}");
                    let found =
                        db::e2e::add_wraps(&db, &device, "0000000000000000", &[wrap(&viewer)])
                            .await
                            .unwrap_or_else(|e| panic!("add_wraps {t}/{i}: {e}"));
                    assert!(found);
                } else {
                    let key = format!("{:08x}{:08x}", t, i);
                    db::e2e::insert_content_key(&db, &device, &key, NOW + i as i64, 1, &[])
                        .await
                        .unwrap_or_else(|e| panic!("insert_content_key {t}/{i}: {e}"));
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    let keys = db::e2e::content_keys(&db, &d.id, None).await.unwrap();
    assert_eq!(keys.len(), 1 + 4 * 25);
}
both_backends!(writers_that_read_first_wait_their_turn);
