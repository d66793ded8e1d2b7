//! End-to-end recording keys (`docs/keys.md`, issue #19), with the real recorder, spool,
//! uploader, cloud and store: the cloud holds no key that opens a recording; an installation
//! admitted later reads what it was given, a removed one reads nothing recorded after its
//! removal; the recovery key restores access on a fresh installation; and a camera whose
//! pairing check is answered for a key set the cloud swapped refuses it.

mod storage_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use eyrie_client::api::ApiClient;
use eyrie_protocol::api::RecordingPolicy;
use eyrie_protocol::e2e::keyset::{KeySetMember, first_statement};
use eyrie_protocol::e2e::viewer::ViewerKeys;
use eyrie_protocol::segment::{SegmentHeader, SegmentKey};
use eyrie_testkit::e2e::TestViewer;
use storage_support::*;

/// The key ids in the headers of `recs`.
async fn key_ids(cloud: &Cloud, recs: &[serde_json::Value]) -> Vec<String> {
    let mut ids = Vec::new();
    for r in recs {
        let bytes = cloud.download(r).await;
        ids.push(
            SegmentHeader::parse(&bytes)
                .expect("a sealed segment")
                .key_id
                .to_hex(),
        );
    }
    ids
}

/// Recordings that started at or after `since_ms`, waiting up to `within` for `n` of them.
async fn recordings_since(
    cloud: &Cloud,
    since_ms: i64,
    n: usize,
    within: Duration,
) -> Vec<serde_json::Value> {
    let t0 = std::time::Instant::now();
    loop {
        let recs: Vec<_> = cloud
            .recordings()
            .await
            .into_iter()
            .filter(|r| r["start_ms"].as_i64().unwrap_or(0) >= since_ms)
            .collect();
        if recs.len() >= n || t0.elapsed() > within {
            return recs;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Every file under `dir`, except the camera's own state (the fixture keeps it there).
fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == "camera-keys") {
            continue;
        }
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The ways a 32-byte key could be written down: raw, base64url, base64, hex.
fn spellings(key: &[u8; 32]) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        key.to_vec(),
        URL_SAFE_NO_PAD.encode(key).into_bytes(),
        STANDARD.encode(key).into_bytes(),
        STANDARD_NO_PAD.encode(key).into_bytes(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_cannot_read_and_removed_installations_stop_reading() {
    let _heavy = heavy().await;
    let cloud = Cloud::start(RecordingPolicy::Continuous).await;
    let laptop = cloud
        .viewer
        .clone()
        .expect("the account's first installation");
    let user = ApiClient::new(cloud.base.clone()).with_token(cloud.user_token.clone());
    let device = cloud.creds.device_id;
    let cap = capture(1.0);
    let spool = tempfile::tempdir().unwrap();
    let st = start_storage(
        &cloud,
        &cap,
        storage_config(
            &cloud,
            spool.path(),
            RecordingPolicy::Continuous,
            Duration::from_secs(2),
        ),
    );

    // 1. Recorded under the camera's first content key; the laptop reads it.
    let first = cloud.wait_recordings(2, Duration::from_secs(60)).await;
    assert!(first.len() >= 2, "{first:?}");
    let first_key = cloud.key_id().to_hex();
    for r in &first[..2] {
        let ts = cloud
            .decrypt_as_viewer(device, &cloud.download(r).await)
            .await
            .expect("the laptop reads it");
        assert!(probe(&ts).video);
    }
    assert_eq!(
        &first[0]["key_id"].as_str().unwrap(),
        &first_key,
        "the camera's content key"
    );

    // 2. A phone asks to be admitted; the laptop compares fingerprints and admits it: it
    //    gets the old keys rewrapped, and the camera makes a new content key for both.
    let phone = Arc::new(ViewerKeys::generate());
    let asked = user
        .request_installation("Phone", phone.public())
        .await
        .unwrap();
    assert_eq!(
        asked.public.fingerprint().unwrap(),
        phone.public().fingerprint().unwrap()
    );
    let set2 =
        eyrie_client::api::keys::admit_installation(&laptop.api, &laptop.set, &laptop.me, &asked)
            .await
            .expect("admitted");
    let phone_api = user.with_viewer_keys(phone.clone());
    let opened = phone_api.recording_keys(device).await.unwrap();
    assert!(
        opened
            .keys
            .iter()
            .any(|k| k.key_id == first_key && k.key.is_some()),
        "the phone reads what was recorded before it came: {opened:?}"
    );
    let t0 = std::time::Instant::now();
    while cloud.key_id().to_hex() == first_key && t0.elapsed() < Duration::from_secs(40) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let second_key = cloud.key_id().to_hex();
    assert_ne!(
        second_key, first_key,
        "the camera follows the key set and rotates"
    );
    assert_eq!(cloud.keys.keyset_version(), Some(set2.version()));

    // 3. The phone is removed; the camera rotates again; what it records next the phone
    //    cannot open, the laptop can.
    let set3 =
        eyrie_client::api::keys::remove_installation(&laptop.api, &set2, &laptop.me, phone.id())
            .await
            .expect("removed");
    let t0 = std::time::Instant::now();
    while cloud.key_id().to_hex() == second_key && t0.elapsed() < Duration::from_secs(40) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let third_key = cloud.key_id().to_hex();
    assert_ne!(
        third_key, second_key,
        "a removal makes a new content key at once"
    );
    assert_eq!(cloud.keys.keyset_version(), Some(set3.version()));
    let rotated_at = now_ms();
    let after = recordings_since(&cloud, rotated_at + 1_000, 2, Duration::from_secs(60)).await;
    let ids = key_ids(&cloud, &after).await;
    assert!(
        !after.is_empty() && ids.iter().all(|k| *k == third_key),
        "{ids:?}"
    );
    let phone_keys = phone_api.recording_keys(device).await.unwrap();
    assert!(
        phone_keys
            .keys
            .iter()
            .all(|k| k.key_id != third_key || k.key.is_none()),
        "the removed phone got the new key: {phone_keys:?}"
    );
    for r in &after {
        let sealed = cloud.download(r).await;
        assert!(
            cloud.decrypt_as_viewer(device, &sealed).await.is_ok(),
            "the laptop reads it"
        );
        for k in phone_keys.keys.iter().filter_map(|k| k.key.as_deref()) {
            let key = SegmentKey::from_base64url(k).unwrap();
            assert!(
                eyrie_protocol::segment::decrypt_to_vec(&sealed, &key, None).is_err(),
                "a key the removed phone holds opens a segment recorded after its removal"
            );
        }
    }

    // 4. A fresh installation with the recovery key reads everything from the start.
    let recovery = laptop
        .recovery
        .clone()
        .expect("shown once at the first key set");
    let fresh = Arc::new(ViewerKeys::generate());
    let wrong = eyrie_protocol::e2e::viewer::RecoveryKey::generate();
    assert!(
        eyrie_client::api::keys::recover(&user, &laptop.user_id, &wrong, &fresh, "Stranger")
            .await
            .is_err(),
        "a recovery key of nobody's restores nothing"
    );
    eyrie_client::api::keys::recover(&user, &laptop.user_id, &recovery, &fresh, "New laptop")
        .await
        .expect("recovered");
    let fresh_api = user.with_viewer_keys(fresh.clone());
    let fresh_keys = fresh_api.recording_keys(device).await.unwrap();
    for id in [&first_key, &second_key, &third_key] {
        let k = fresh_keys
            .keys
            .iter()
            .find(|k| &k.key_id == id)
            .and_then(|k| k.key.clone());
        assert!(
            k.is_some(),
            "the recovered installation cannot open {id}: {fresh_keys:?}"
        );
    }
    let old = cloud.download(&first[0]).await;
    let k = fresh_keys
        .keys
        .iter()
        .find(|k| k.key_id == first_key)
        .and_then(|k| k.key.clone())
        .unwrap();
    assert!(
        eyrie_protocol::segment::decrypt_to_vec(
            &old,
            &SegmentKey::from_base64url(&k).unwrap(),
            None
        )
        .is_ok()
    );
    st.uninit().await;

    // 5. Everything the cloud holds — its database, its object store, every file under its
    //    data directory — contains no key that opens a recording. A 32-byte window that
    //    decrypts a segment is, but for a forgery of AES-GCM, that segment's key; so the
    //    keys of every segment's header (all of which the laptop can open) are looked for
    //    in every 32-byte window, and in the ways a key is written down (base64, hex).
    let all = cloud.recordings().await;
    let mut ids = key_ids(&cloud, &all).await;
    ids.sort();
    ids.dedup();
    let laptop_keys = laptop.api.recording_keys(device).await.unwrap();
    let mut secrets = Vec::new();
    for id in &ids {
        let k = laptop_keys
            .keys
            .iter()
            .find(|k| &k.key_id == id)
            .and_then(|k| k.key.clone());
        let k =
            SegmentKey::from_base64url(&k.unwrap_or_else(|| panic!("the laptop cannot open {id}")))
                .unwrap();
        secrets.extend(spellings(k.as_bytes()));
    }
    assert!(ids.len() >= 3, "three content keys were in use: {ids:?}");
    let mut held = Vec::new();
    files(cloud.dir.path(), &mut held);
    assert!(
        held.iter().any(|p| p.to_string_lossy().contains("eyrie")),
        "{held:?}"
    );
    let mut bytes_searched = 0usize;
    for path in &held {
        let data = std::fs::read(path).unwrap_or_default();
        bytes_searched += data.len();
        for s in &secrets {
            assert!(
                !data.windows(s.len()).any(|w| w == s.as_slice()),
                "{} holds a content key",
                path.display()
            );
        }
    }
    eprintln!(
        "searched {} files, {bytes_searched} bytes, for {} keys",
        held.len(),
        ids.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_refuses_a_key_set_the_cloud_swapped_in() {
    let cloud = Cloud::start(RecordingPolicy::None).await;
    let user = ApiClient::new(cloud.base.clone()).with_token(cloud.user_token.clone());
    let viewer = cloud
        .viewer
        .clone()
        .expect("the account's first installation");
    let created = user.create_device("Garage").await.unwrap();
    let device = created.device.id;
    let code = TestViewer::code(&created.activation_code);
    let creds = match ApiClient::new(cloud.base.clone())
        .activate(&eyrie_protocol::api::ActivateRequest {
            activation_code: Some(created.activation_code.clone()),
            pairing_token: None,
        })
        .await
        .unwrap()
    {
        eyrie_client::api::Activation::Ready(c) => *c,
        other => panic!("{other:?}"),
    };

    // The cloud lies: the statement it serves as the account's key set holds a key of its
    // own (signed by that key, so it is self-consistent), in place of the one the laptop
    // signed. It edits its own database to do it.
    let cloud_key = ViewerKeys::generate();
    let forged = first_statement(
        &viewer.user_id,
        vec![KeySetMember::new(&cloud_key, "Laptop", false)],
        &cloud_key,
        now_ms(),
    );
    let db = eyrie_cloud::db::Db::sqlite_url(cloud.dir.path());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db)
        .await
        .unwrap();
    let n = sqlx::query(
        "UPDATE keyset_statements SET statement = $1 WHERE user_id = $2 AND version = 1",
    )
    .bind(serde_json::to_string(&forged).unwrap())
    .bind(&viewer.user_id)
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(n.rows_affected(), 1, "the statement row");

    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        state.path().join(eyrie_camera::setup::PAIRING_CODE_FILE),
        &code,
    )
    .unwrap();
    let device_api = ApiClient::new(cloud.base.clone()).with_token(creds.device_token.clone());
    let (creds2, state2) = (creds.clone(), state.path().to_owned());
    let camera = tokio::spawn(async move {
        eyrie_camera::keys::CameraKeys::establish(&creds2, &device_api, &state2, |_| {}).await
    });
    // The laptop answers honestly for the set it signed.
    let answered = eyrie_client::api::keys::answer_pairing(
        &viewer.api,
        device,
        &code,
        &viewer.set,
        Duration::from_secs(60),
    )
    .await;
    assert!(
        matches!(answered, Err(eyrie_client::api::keys::E2eError::Refused)),
        "the camera must refuse: {answered:?}"
    );
    let st = user.pairing_state(device).await.unwrap();
    assert_ne!(
        st.outcome,
        Some(eyrie_protocol::api::PairingOutcome::Verified),
        "{st:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !camera.is_finished(),
        "the camera went on without a verified key set"
    );
    assert!(
        !state.path().join(eyrie_camera::keys::STATE_FILE).exists(),
        "it kept keys"
    );
    let keys = user.wrapped_keys(device, None).await.unwrap();
    assert!(
        keys.keys.is_empty(),
        "a content key was made for the forged set: {keys:?}"
    );
    camera.abort();
}
