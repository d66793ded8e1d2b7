//! End-to-end keys (`docs/keys.md`, `docs/api.md` §13), on SQLite and PostgreSQL: the
//! happy path through the typed client both sides use (key set chain with a second
//! installation and the recovery key, the pairing check relayed, a content key wrapped
//! and unwrapped), every refusal the section lists, another tenant trying every call on
//! someone else's keys, replays, and floods.

use crate::common;

use common::{Backend, TestCloud, sha256, unix_ms};
use eyrie_api::{ApiClient, ApiError};
use eyrie_cloud::db::e2e as store;
use eyrie_protocol::api::{
    KeySetStatement, NewContentKey, PairingOutcome, PairingState, RecordingKey, ViewerPublic,
    WrappedKey,
};
use eyrie_protocol::e2e::keyset::{self, KeySet, KeySetBody, KeySetMember};
use eyrie_protocol::e2e::pairing::{self, CameraPairing};
use eyrie_protocol::e2e::viewer::{RecoveryKey, ViewerKeys};
use eyrie_protocol::e2e::wrap;
use eyrie_protocol::segment::SegmentKey;
use serde_json::{Value, json};
use uuid::Uuid;

/// The HTTP status of a refused call.
fn status<T: std::fmt::Debug>(r: Result<T, ApiError>) -> u16 {
    r.expect_err("the call should be refused")
        .status()
        .expect("the cloud answered")
}

/// An account, signed in, and its id.
async fn account(app: &TestCloud, name: &str) -> (ApiClient, String) {
    let api = app.account(name).await;
    let id = api.me().await.expect("me").id.to_string();
    (api, id)
}

/// A device of `owner`, activated: its id, its own client and its legacy key id.
async fn device(app: &TestCloud, owner: &ApiClient, name: &str) -> (Uuid, ApiClient, String) {
    let creds = app.device(owner.token().expect("signed in"), name).await;
    let id: Uuid = creds["device_id"].as_str().unwrap().parse().unwrap();
    let api = ApiClient::new(app.base.clone())
        .with_token(creds["device_token"].as_str().unwrap().to_owned());
    // A device activated before end-to-end keys, in an upgraded database.
    let (legacy, _) = app.legacy_key(id).await;
    (id, api, legacy)
}

fn member(keys: &ViewerKeys, name: &str) -> KeySetMember {
    KeySetMember::new(keys, name, false)
}

fn new_key_id() -> String {
    Uuid::new_v4().simple().to_string()[..16].to_owned()
}

/// A 12-character pairing code (the claim part does not reach the cloud here).
fn code() -> String {
    pairing::display("ABCDEFGH", &pairing::new_check())
}

/// `key` wrapped to every member of `set` for `device`/`key_id`.
fn wraps_for(set: &KeySet, key: &SegmentKey, device: &Uuid, key_id: &str) -> Vec<WrappedKey> {
    set.body
        .keys
        .iter()
        .map(|m| wrap::wrap(key, &m.public, &device.to_string(), key_id).unwrap())
        .collect()
}

/// The user's chain as served, verified from version 1.
async fn chain(api: &ApiClient, uid: &str) -> KeySet {
    let list = api.keyset(0).await.expect("key set");
    KeySet::from_chain(&list.statements, uid).expect("chain verifies")
}

/// The content key `key_id` as `me` opens it.
async fn opened(api: &ApiClient, dev: Uuid, me: &ViewerKeys, key_id: &str) -> Option<String> {
    let list = api.open_keys(dev, Some(me)).await.expect("keys");
    list.keys
        .into_iter()
        .find(|k| k.key_id == key_id)
        .and_then(|k| k.key)
}

/// Ask for an upload slot naming `key_id` as the device.
async fn slot(app: &TestCloud, dev_token: &str, channel: &str, key_id: &str) -> (u16, Value) {
    let body = b"sealed segment";
    let t0 = unix_ms() - 600_000;
    app.post(
        &format!("/api/v1/channels/{channel}/recordings"),
        Some(dev_token),
        json!({"start_ms": t0, "end_ms": t0 + 30_000, "key_id": key_id,
               "size": body.len(), "sha256": sha256(body)}),
    )
    .await
}

async fn happy_path(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (alice, uid) = account(&app, "alice").await;
    assert!(alice.keyset(0).await.unwrap().statements.is_empty());

    // The first installation makes version 1: itself and the recovery key.
    let laptop = ViewerKeys::generate();
    let recovery = RecoveryKey::generate();
    let v1 = keyset::first_statement(
        &uid,
        vec![
            member(&laptop, "Laptop"),
            KeySetMember::new(recovery.keys(), "Recovery key", true),
        ],
        &laptop,
        unix_ms(),
    );
    assert_eq!(alice.post_keyset(&v1).await.unwrap(), v1);
    assert_eq!(alice.keyset(0).await.unwrap().statements, vec![v1.clone()]);

    // A second installation asks to be admitted; the laptop sees the same fingerprint,
    // signs version 2 with it, and the request is gone.
    let tablet = ViewerKeys::generate();
    let asked = alice
        .request_installation("Tablet", tablet.public())
        .await
        .unwrap();
    assert_eq!(asked.id, tablet.id());
    let listed = alice.installations().await.unwrap().installations;
    assert_eq!(listed, vec![asked.clone()]);
    assert_eq!(
        listed[0].public.fingerprint().unwrap(),
        tablet.public().fingerprint().unwrap()
    );
    let set1 = chain(&alice, &uid).await;
    let mut keys = set1.body.keys.clone();
    keys.push(member(&tablet, "Tablet"));
    let v2 = set1.successor(keys, &laptop, unix_ms());
    alice.post_keyset(&v2).await.unwrap();
    assert!(
        alice
            .installations()
            .await
            .unwrap()
            .installations
            .is_empty(),
        "a key set listing the key dismisses its request"
    );

    // A phone restored with the recovery key checks the chain and adds itself (version 3).
    let phone = ViewerKeys::generate();
    let restored = RecoveryKey::parse(&recovery.to_text()).unwrap();
    let set2 = chain(&alice, &uid).await;
    assert_eq!(set2.version(), 2);
    assert!(set2.member(restored.keys().id()).unwrap().recovery);
    let mut keys = set2.body.keys.clone();
    keys.push(member(&phone, "Phone"));
    let v3 = set2.successor(keys, restored.keys(), unix_ms());
    alice.post_keyset(&v3).await.unwrap();
    assert_eq!(alice.keyset(2).await.unwrap().statements, vec![v3.clone()]);

    // The pairing check, relayed: the camera's hello, the viewer's answer over version 3,
    // the camera pins it and says so.
    let (dev, camera_api, legacy) = device(&app, &alice, "Porch").await;
    assert_eq!(
        alice.pairing_state(dev).await.unwrap(),
        PairingState::default()
    );
    let code = code();
    let camera = CameraPairing::start(&code).unwrap();
    camera_api.pairing_hello(dev, camera.hello()).await.unwrap();
    let state = alice.pairing_state(dev).await.unwrap();
    let hello = state.camera.clone().expect("hello relayed");
    assert_eq!(&hello, camera.hello());
    let latest = alice.keyset(0).await.unwrap().statements.pop().unwrap();
    let answer = pairing::answer(&code, &hello, &dev.to_string(), &latest).unwrap();
    alice.answer_pairing(dev, &answer).await.unwrap();
    let seen = camera_api.pairing_state(dev).await.unwrap();
    let relayed = seen.viewer.expect("answer relayed");
    assert_eq!(relayed, answer);
    let served = camera_api
        .device_keyset(dev, relayed.keyset_version - 1)
        .await
        .unwrap()
        .statements;
    assert_eq!(served.len(), 1);
    let pinned = camera
        .finish(&relayed, served[0].clone(), &dev.to_string(), &uid)
        .expect("the code vouches for the key set");
    assert_eq!(pinned.version(), 3);
    camera_api
        .pairing_outcome(dev, PairingOutcome::Verified)
        .await
        .unwrap();
    assert_eq!(
        alice.pairing_state(dev).await.unwrap().outcome,
        Some(PairingOutcome::Verified)
    );

    // The camera's first content key, wrapped to every key of version 3.
    let content = SegmentKey::generate();
    let key_id = new_key_id();
    let created_ms = unix_ms() + 1_000;
    camera_api
        .post_content_key(
            dev,
            &NewContentKey {
                key_id: key_id.clone(),
                created_ms,
                keyset_version: 3,
                wraps: wraps_for(&pinned, &content, &dev, &key_id),
            },
        )
        .await
        .unwrap();
    for me in [&laptop, &tablet, &phone, restored.keys()] {
        assert_eq!(
            opened(&alice, dev, me, &key_id).await,
            Some(content.to_base64url()),
            "every member opens the content key"
        );
    }
    // Newest first: the content key, then the legacy key in the clear.
    let list = alice.wrapped_keys(dev, Some(laptop.id())).await.unwrap();
    assert_eq!(list.keys.len(), 2);
    assert_eq!(list.keys[0].key_id, key_id);
    assert_eq!(list.keys[0].keyset_version, Some(3));
    assert!(list.keys[0].key.is_none());
    assert_eq!(
        list.keys[0].wrapped.as_ref().unwrap().viewer_key_id,
        laptop.id()
    );
    assert_eq!(list.keys[1].key_id, legacy);
    assert!(list.keys[1].key.is_some());
    // Without a viewer key, or for one it was not wrapped to: no wrap.
    let bare = alice.wrapped_keys(dev, None).await.unwrap();
    assert!(bare.keys[0].wrapped.is_none());
    let stranger = ViewerKeys::generate();
    let theirs = camera_api
        .wrapped_keys(dev, Some(stranger.id()))
        .await
        .unwrap();
    assert!(theirs.keys[0].wrapped.is_none(), "the device reads too");
    assert_eq!(opened(&alice, dev, &stranger, &key_id).await, None);

    // A fourth installation admitted later gets the key rewrapped by the laptop.
    let desk = ViewerKeys::generate();
    let set3 = chain(&alice, &uid).await;
    let mut keys = set3.body.keys.clone();
    keys.push(member(&desk, "Desk"));
    alice
        .post_keyset(&set3.successor(keys, &laptop, unix_ms()))
        .await
        .unwrap();
    let mine = alice.wrapped_keys(dev, Some(laptop.id())).await.unwrap();
    let k = &mine.keys[0];
    let clear = wrap::unwrap(
        k.wrapped.as_ref().unwrap(),
        &laptop,
        &dev.to_string(),
        &k.key_id,
    )
    .unwrap();
    let for_desk = wrap::wrap(&clear, desk.public(), &dev.to_string(), &key_id).unwrap();
    alice
        .add_wraps(dev, &key_id, vec![for_desk.clone()])
        .await
        .unwrap();
    // Posting it again replaces it (one wrap per viewer key).
    let again = wrap::wrap(&clear, desk.public(), &dev.to_string(), &key_id).unwrap();
    alice
        .add_wraps(dev, &key_id, vec![again.clone()])
        .await
        .unwrap();
    assert_eq!(
        opened(&alice, dev, &desk, &key_id).await,
        Some(content.to_base64url())
    );
    let stored = store::all_wraps(&app.state.db, &dev).await.unwrap();
    assert_eq!(stored.len(), 5, "four members of version 3 and the desk");
    let desk_wraps: Vec<_> = stored
        .iter()
        .filter(|(_, w)| w.viewer_key_id == desk.id())
        .collect();
    assert_eq!(desk_wraps.len(), 1);
    assert_eq!(desk_wraps[0].1.ct, again.ct);

    // Uploads name a registered key: the content key and the legacy key pass.
    let dev_token = camera_api.token().unwrap().to_owned();
    let channel = alice.device(dev).await.unwrap().channels[0].id.to_string();
    assert_eq!(slot(&app, &dev_token, &channel, &key_id).await.0, 201);
    assert_eq!(slot(&app, &dev_token, &channel, &legacy).await.0, 201);
    let (s, v) = slot(&app, &dev_token, &channel, &new_key_id()).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")));

    // Deleting the device deletes its pairing state, content keys and wraps.
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/devices/{dev}"),
            alice.token(),
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert!(
        store::all_wraps(&app.state.db, &dev)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store::content_keys(&app.state.db, &dev, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store::pairing(&app.state.db, &dev).await.unwrap(),
        store::PairingRow::default()
    );
    // The key sets are the user's: they stay.
    assert_eq!(alice.keyset(0).await.unwrap().statements.len(), 4);
}
both_backends!(happy_path);

/// Alice with version 1 (laptop and recovery key) and a paired device.
struct Tenant {
    api: ApiClient,
    uid: String,
    laptop: ViewerKeys,
    set: KeySet,
    dev: Uuid,
    camera: ApiClient,
    legacy: String,
}

async fn tenant(app: &TestCloud, name: &str) -> Tenant {
    let (api, uid) = account(app, name).await;
    let laptop = ViewerKeys::generate();
    let recovery = RecoveryKey::generate();
    let v1 = keyset::first_statement(
        &uid,
        vec![
            member(&laptop, "Laptop"),
            KeySetMember::new(recovery.keys(), "Recovery key", true),
        ],
        &laptop,
        unix_ms(),
    );
    api.post_keyset(&v1).await.unwrap();
    let set = KeySet::first(v1, &uid).unwrap();
    let (dev, camera, legacy) = device(app, &api, "Porch").await;
    Tenant {
        api,
        uid,
        laptop,
        set,
        dev,
        camera,
        legacy,
    }
}

/// A statement of `body` signed by `signer`, as is.
fn signed(body: &KeySetBody, signer: &ViewerKeys) -> KeySetStatement {
    KeySetStatement::sign(body, signer)
}

async fn refusals(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (alice, uid) = account(&app, "alice").await;
    let laptop = ViewerKeys::generate();
    let recovery = RecoveryKey::generate();
    let members = vec![
        member(&laptop, "Laptop"),
        KeySetMember::new(recovery.keys(), "Recovery key", true),
    ];
    let body1 = KeySetBody {
        v: 1,
        user_id: uid.clone(),
        version: 1,
        created_ms: unix_ms(),
        keys: members.clone(),
    };
    let outsider = ViewerKeys::generate();

    // ── POST /keyset ──
    let garbage = KeySetStatement {
        body: "not base64!".into(),
        signer: laptop.id().into(),
        sig: "AA".into(),
    };
    assert_eq!(status(alice.post_keyset(&garbage).await), 400, "bad body");
    let mut wrong_id = body1.clone();
    wrong_id.keys[0].id = outsider.id().into();
    assert_eq!(
        status(alice.post_keyset(&signed(&wrong_id, &laptop)).await),
        400,
        "an id that does not match its key"
    );
    let mut bad_sig = signed(&body1, &laptop);
    bad_sig.sig = signed(&body1, recovery.keys()).sig;
    assert_eq!(
        status(alice.post_keyset(&bad_sig).await),
        400,
        "bad signature"
    );
    assert_eq!(
        status(alice.post_keyset(&signed(&body1, &outsider)).await),
        400,
        "version 1 signed by a key not in it"
    );
    let mut other_user = body1.clone();
    other_user.user_id = Uuid::new_v4().to_string();
    assert_eq!(
        status(alice.post_keyset(&signed(&other_user, &laptop)).await),
        403,
        "user_id is not the caller"
    );
    let mut v2_first = body1.clone();
    v2_first.version = 2;
    assert_eq!(
        status(alice.post_keyset(&signed(&v2_first, &laptop)).await),
        409,
        "the first version is 1"
    );
    let v1 = signed(&body1, &laptop);
    alice.post_keyset(&v1).await.unwrap();
    assert_eq!(
        status(alice.post_keyset(&v1).await),
        409,
        "replay: version 1 again"
    );
    let set1 = KeySet::first(v1.clone(), &uid).unwrap();
    let mut body3 = body1.clone();
    body3.version = 3;
    assert_eq!(
        status(alice.post_keyset(&signed(&body3, &laptop)).await),
        409,
        "a gap"
    );
    let mut keys2 = members.clone();
    keys2.push(member(&outsider, "Intruder"));
    assert_eq!(
        status(
            alice
                .post_keyset(&set1.successor(keys2.clone(), &outsider, unix_ms()))
                .await
        ),
        409,
        "signed by a key not in the latest version"
    );
    let mut v2_bad_sig = set1.successor(keys2.clone(), &laptop, unix_ms());
    v2_bad_sig.sig = v1.sig.clone();
    assert_eq!(status(alice.post_keyset(&v2_bad_sig).await), 400);
    let v2 = set1.successor(keys2, &laptop, unix_ms());
    alice.post_keyset(&v2).await.unwrap();
    assert_eq!(
        status(alice.post_keyset(&v2).await),
        409,
        "replay: version 2"
    );
    assert_eq!(alice.keyset(0).await.unwrap().statements, vec![v1, v2]);

    // ── devices on user routes, users on device routes ──
    let (dev, camera, legacy) = device(&app, &alice, "Porch").await;
    assert_eq!(status(camera.keyset(0).await), 403);
    assert_eq!(status(camera.installations().await), 403);
    assert_eq!(
        status(camera.request_installation("Cam", outsider.public()).await),
        403
    );
    let hello = CameraPairing::start(&code()).unwrap().hello().clone();
    assert_eq!(status(alice.pairing_hello(dev, &hello).await), 403);
    assert_eq!(
        status(alice.pairing_outcome(dev, PairingOutcome::Verified).await),
        403
    );

    // ── pairing ──
    let code1 = code();
    let latest = alice.keyset(0).await.unwrap().statements.pop().unwrap();
    let early_hello = CameraPairing::start(&code1).unwrap();
    let early = pairing::answer(&code1, early_hello.hello(), &dev.to_string(), &latest).unwrap();
    assert_eq!(
        status(alice.answer_pairing(dev, &early).await),
        409,
        "no hello yet"
    );
    assert_eq!(
        status(camera.pairing_outcome(dev, PairingOutcome::Refused).await),
        409,
        "no answer yet"
    );
    let mut bad_hello = hello.clone();
    bad_hello.pake = "not base64!".into();
    assert_eq!(status(camera.pairing_hello(dev, &bad_hello).await), 400);
    let first = CameraPairing::start(&code1).unwrap();
    camera.pairing_hello(dev, first.hello()).await.unwrap();
    assert_eq!(
        status(alice.answer_pairing(dev, &early).await),
        409,
        "the attempt is not the hello's"
    );
    let answer = pairing::answer(&code1, first.hello(), &dev.to_string(), &latest).unwrap();
    let mut missing_version = answer.clone();
    missing_version.keyset_version = 9;
    assert_eq!(
        status(alice.answer_pairing(dev, &missing_version).await),
        409,
        "no such key set version"
    );
    let mut bad_mac = answer.clone();
    bad_mac.mac = "AAAA".into();
    assert_eq!(status(alice.answer_pairing(dev, &bad_mac).await), 400);
    assert_eq!(
        status(camera.answer_pairing(dev, &answer).await),
        403,
        "the device does not answer"
    );
    alice.answer_pairing(dev, &answer).await.unwrap();
    assert_eq!(
        status(alice.answer_pairing(dev, &answer).await),
        409,
        "one answer per attempt"
    );
    camera
        .pairing_outcome(dev, PairingOutcome::Refused)
        .await
        .unwrap();
    // The camera restarts: a new attempt clears answer and outcome; the old answer is stale.
    let second = CameraPairing::start(&code1).unwrap();
    camera.pairing_hello(dev, second.hello()).await.unwrap();
    let state = alice.pairing_state(dev).await.unwrap();
    assert_eq!(
        state,
        PairingState {
            camera: Some(second.hello().clone()),
            viewer: None,
            outcome: None
        }
    );
    assert_eq!(
        status(alice.answer_pairing(dev, &answer).await),
        409,
        "replay: an answer to the old attempt"
    );
    assert_eq!(alice.pairing_state(dev).await.unwrap(), state);

    // ── content keys ──
    let set2 = KeySet::first(alice.keyset(0).await.unwrap().statements[0].clone(), &uid)
        .unwrap()
        .follow(&alice.keyset(0).await.unwrap().statements)
        .unwrap();
    let content = SegmentKey::generate();
    let kid = new_key_id();
    let good = NewContentKey {
        key_id: kid.clone(),
        created_ms: unix_ms(),
        keyset_version: 2,
        wraps: wraps_for(&set2, &content, &dev, &kid),
    };
    let refused = |k: NewContentKey| {
        let camera = camera.clone();
        async move { status(camera.post_content_key(dev, &k).await) }
    };
    for bad_id in [
        "ABCDEF0123456789",
        "abc",
        "0123456789abcdefff",
        "g123456789abcdef",
    ] {
        let mut k = good.clone();
        k.key_id = bad_id.into();
        assert_eq!(refused(k).await, 400, "key id {bad_id}");
    }
    let mut k = good.clone();
    k.wraps.clear();
    assert_eq!(refused(k).await, 400, "no wraps");
    let mut k = good.clone();
    k.wraps = (0..65).map(|_| good.wraps[0].clone()).collect();
    assert_eq!(refused(k).await, 400, "too many wraps");
    let mut k = good.clone();
    k.wraps.push(good.wraps[0].clone());
    assert_eq!(refused(k).await, 400, "two wraps for one key");
    let mut k = good.clone();
    k.wraps.push(
        wrap::wrap(
            &content,
            ViewerKeys::generate().public(),
            &dev.to_string(),
            &kid,
        )
        .unwrap(),
    );
    assert_eq!(refused(k).await, 400, "a wrap for a key not in the set");
    let mut k = good.clone();
    k.keyset_version = 1;
    assert_eq!(refused(k).await, 400, "the outsider is not in version 1");
    let mut k = good.clone();
    k.wraps[0].enc = "AAAA".into();
    assert_eq!(refused(k).await, 400, "enc of the wrong length");
    let mut k = good.clone();
    k.wraps[0].ct = "AAAA".into();
    assert_eq!(refused(k).await, 400, "ct of the wrong length");
    let mut k = good.clone();
    k.created_ms = -1;
    assert_eq!(refused(k).await, 400, "time out of range");
    let mut k = good.clone();
    k.keyset_version = 7;
    assert_eq!(refused(k).await, 409, "no such key set version");
    let mut k = good.clone();
    k.key_id = legacy.clone();
    k.wraps = wraps_for(&set2, &content, &dev, &legacy);
    assert_eq!(refused(k).await, 409, "the legacy key's id");
    assert_eq!(
        status(alice.post_content_key(dev, &good).await),
        403,
        "users do not make content keys"
    );
    camera.post_content_key(dev, &good).await.unwrap();
    assert_eq!(
        refused(good.clone()).await,
        409,
        "replay: the key id exists"
    );

    // ── wraps ──
    let extra = wrap::wrap(&content, outsider.public(), &dev.to_string(), &kid).unwrap();
    assert_eq!(
        status(
            alice
                .add_wraps(dev, &new_key_id(), vec![extra.clone()])
                .await
        ),
        404,
        "unknown key id"
    );
    assert_eq!(
        status(alice.add_wraps(dev, "NOT-HEX", vec![extra.clone()]).await),
        400
    );
    assert_eq!(status(alice.add_wraps(dev, &kid, vec![]).await), 400);
    assert_eq!(
        status(
            alice
                .add_wraps(dev, &kid, (0..65).map(|_| extra.clone()).collect())
                .await
        ),
        400
    );
    let stranger = wrap::wrap(
        &content,
        ViewerKeys::generate().public(),
        &dev.to_string(),
        &kid,
    )
    .unwrap();
    assert_eq!(
        status(alice.add_wraps(dev, &kid, vec![stranger]).await),
        400,
        "a key not in the latest set"
    );
    assert_eq!(
        status(camera.add_wraps(dev, &kid, vec![extra.clone()]).await),
        403,
        "the device does not add wraps"
    );
    assert_eq!(
        status(alice.wrapped_keys(dev, Some("XYZ")).await),
        400,
        "malformed viewer key"
    );

    // ── installations ──
    let tablet = ViewerKeys::generate();
    assert_eq!(
        status(alice.request_installation("", tablet.public()).await),
        400
    );
    assert_eq!(
        status(
            alice
                .request_installation(&"x".repeat(65), tablet.public())
                .await
        ),
        400
    );
    let broken = ViewerPublic {
        x25519: "AAAA".into(),
        ed25519: tablet.public().ed25519.clone(),
    };
    assert_eq!(
        status(alice.request_installation("Tablet", &broken).await),
        400
    );
    alice
        .request_installation("Tablet", tablet.public())
        .await
        .unwrap();
    alice
        .request_installation("Kitchen tablet", tablet.public())
        .await
        .unwrap();
    let listed = alice.installations().await.unwrap().installations;
    assert_eq!(listed.len(), 1, "the same key replaces its request");
    assert_eq!(listed[0].name, "Kitchen tablet");
    assert_eq!(status(alice.dismiss_installation(&new_key_id()).await), 404);
    assert_eq!(status(alice.dismiss_installation("nope").await), 400);
    alice.dismiss_installation(tablet.id()).await.unwrap();
    assert_eq!(
        status(alice.dismiss_installation(tablet.id()).await),
        404,
        "dismissed once"
    );
    for i in 0..16 {
        alice
            .request_installation(&format!("Device {i}"), ViewerKeys::generate().public())
            .await
            .unwrap();
    }
    assert_eq!(
        status(
            alice
                .request_installation("One more", ViewerKeys::generate().public())
                .await
        ),
        409,
        "at most 16 waiting"
    );
    assert_eq!(alice.installations().await.unwrap().installations.len(), 16);

    // ── floods: bodies over 32 KiB are 413 JSON ──
    let huge = json!({"body": "A".repeat(40 * 1024), "signer": laptop.id(), "sig": "AA"});
    let (s, v) = app
        .post("/api/v1/keyset", alice.token(), huge.clone())
        .await;
    assert_eq!((s, v["code"].as_str()), (413, Some("payload_too_large")));
    let big_body = json!({"key_id": new_key_id(), "created_ms": 1, "keyset_version": 2,
        "wraps": (0..300).map(|_| serde_json::to_value(&good.wraps[0]).unwrap()).collect::<Vec<_>>()});
    let (s, v) = app
        .post(
            &format!("/api/v1/devices/{dev}/content-keys"),
            camera.token(),
            big_body,
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (413, Some("payload_too_large")));
    let (s, v) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/devices/{dev}/pairing/camera"),
            camera.token(),
            Some(json!({"attempt": "A".repeat(40 * 1024), "pake": "AA"})),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (413, Some("payload_too_large")));
    // A statement under the request limit whose body is over 16 KiB is malformed.
    let long = json!({"body": "A".repeat(22 * 1024), "signer": laptop.id(), "sig": "AA"});
    let (s, v) = app.post("/api/v1/keyset", alice.token(), long).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_request")));
    assert_eq!(alice.keyset(0).await.unwrap().statements.len(), 2);

    // ── upload slots ──
    let dev_token = camera.token().unwrap().to_owned();
    let channel = alice.device(dev).await.unwrap().channels[0].id.to_string();
    let (s, v) = slot(&app, &dev_token, &channel, &new_key_id()).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (409, Some("conflict")),
        "a key the device never registered"
    );
}
both_backends!(refusals);

async fn cross_tenant(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let a = tenant(&app, "alice").await;
    let bob = tenant(&app, "bobby").await;

    // Alice's state: a pairing answered, a content key, an installation request.
    let code = code();
    let camera = CameraPairing::start(&code).unwrap();
    a.camera.pairing_hello(a.dev, camera.hello()).await.unwrap();
    let answer =
        pairing::answer(&code, camera.hello(), &a.dev.to_string(), &a.set.statement).unwrap();
    a.api.answer_pairing(a.dev, &answer).await.unwrap();
    let content = SegmentKey::generate();
    let kid = new_key_id();
    a.camera
        .post_content_key(
            a.dev,
            &NewContentKey {
                key_id: kid.clone(),
                created_ms: unix_ms(),
                keyset_version: 1,
                wraps: wraps_for(&a.set, &content, &a.dev, &kid),
            },
        )
        .await
        .unwrap();
    let newcomer = ViewerKeys::generate();
    a.api
        .request_installation("Tablet", newcomer.public())
        .await
        .unwrap();
    let before_sets = a.api.keyset(0).await.unwrap();
    let before_pairing = a.api.pairing_state(a.dev).await.unwrap();
    let before_wraps = store::all_wraps(&app.state.db, &a.dev).await.unwrap();
    let before_installs = a.api.installations().await.unwrap();
    let before_keys = store::content_keys(&app.state.db, &a.dev, None)
        .await
        .unwrap();

    // Reads: Bob and Bob's camera see nothing of Alice's.
    assert_eq!(
        bob.api.keyset(0).await.unwrap().statements,
        vec![bob.set.statement.clone()],
        "the key set list is the caller's own"
    );
    assert_eq!(status(bob.api.device_keyset(a.dev, 0).await), 404);
    assert_eq!(status(bob.camera.device_keyset(a.dev, 0).await), 404);
    assert_eq!(status(bob.api.pairing_state(a.dev).await), 404);
    assert_eq!(status(bob.camera.pairing_state(a.dev).await), 404);
    assert_eq!(
        status(bob.api.wrapped_keys(a.dev, Some(a.laptop.id())).await),
        404
    );
    assert_eq!(
        status(bob.camera.wrapped_keys(a.dev, Some(a.laptop.id())).await),
        404
    );
    assert!(
        bob.api
            .installations()
            .await
            .unwrap()
            .installations
            .is_empty(),
        "installation requests are the caller's own"
    );
    // Bob's own camera serves Bob's chain, not Alice's.
    assert_eq!(
        bob.camera
            .device_keyset(bob.dev, 0)
            .await
            .unwrap()
            .statements,
        vec![bob.set.statement.clone()]
    );

    // Writes: all refused.
    let mut forged = a.set.body.clone();
    forged.version = 2;
    forged.keys.push(member(&bob.laptop, "Bob"));
    assert_eq!(
        status(bob.api.post_keyset(&signed(&forged, &bob.laptop)).await),
        403,
        "a key set with Alice's user_id"
    );
    let bob_code = self::code();
    let bob_answer = pairing::answer(
        &bob_code,
        camera.hello(),
        &a.dev.to_string(),
        &bob.set.statement,
    )
    .unwrap();
    assert_eq!(
        status(bob.api.answer_pairing(a.dev, &bob_answer).await),
        404,
        "answering Alice's camera"
    );
    let bob_hello = CameraPairing::start(&bob_code).unwrap();
    assert_eq!(
        status(bob.camera.pairing_hello(a.dev, bob_hello.hello()).await),
        404,
        "a hello for Alice's device"
    );
    assert_eq!(
        status(
            bob.camera
                .pairing_outcome(a.dev, PairingOutcome::Refused)
                .await
        ),
        404,
        "an outcome for Alice's device"
    );
    let bob_kid = new_key_id();
    let bob_key = NewContentKey {
        key_id: bob_kid.clone(),
        created_ms: unix_ms(),
        keyset_version: 1,
        wraps: wraps_for(&bob.set, &content, &a.dev, &bob_kid),
    };
    assert_eq!(
        status(bob.camera.post_content_key(a.dev, &bob_key).await),
        404,
        "a content key for Alice's device"
    );
    let to_bob = wrap::wrap(&content, bob.laptop.public(), &a.dev.to_string(), &kid).unwrap();
    assert_eq!(
        status(bob.api.add_wraps(a.dev, &kid, vec![to_bob.clone()]).await),
        404,
        "wraps on Alice's content key"
    );
    assert_eq!(
        status(bob.api.add_wraps(bob.dev, &kid, vec![to_bob]).await),
        404,
        "Alice's key id through Bob's device"
    );
    assert_eq!(
        status(bob.api.dismiss_installation(newcomer.id()).await),
        404,
        "dismissing Alice's installation request"
    );
    // Bob's camera naming Alice's content key in an upload.
    let bob_token = bob.camera.token().unwrap().to_owned();
    let bob_channel = bob.api.device(bob.dev).await.unwrap().channels[0]
        .id
        .to_string();
    let (s, v) = slot(&app, &bob_token, &bob_channel, &kid).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")));
    let (s, _) = slot(&app, &bob_token, &bob_channel, &a.legacy).await;
    assert_eq!(s, 409, "Alice's legacy key is not Bob's camera's");
    // A content key on Bob's own device for a key set version only Alice has.
    let mut only_alice = bob_key.clone();
    only_alice.keyset_version = 2;
    assert_eq!(
        status(bob.camera.post_content_key(bob.dev, &only_alice).await),
        409
    );

    // Nothing of Alice's changed.
    assert_eq!(a.api.keyset(0).await.unwrap(), before_sets);
    assert_eq!(a.api.pairing_state(a.dev).await.unwrap(), before_pairing);
    assert_eq!(
        store::all_wraps(&app.state.db, &a.dev).await.unwrap(),
        before_wraps
    );
    assert_eq!(
        store::content_keys(&app.state.db, &a.dev, None)
            .await
            .unwrap(),
        before_keys
    );
    assert_eq!(a.api.installations().await.unwrap(), before_installs);
    assert_eq!(
        opened(&a.api, a.dev, &a.laptop, &kid).await,
        Some(content.to_base64url())
    );
    assert_eq!(a.uid.len(), 36);
    let keys: Vec<RecordingKey> = a.api.open_keys(a.dev, None).await.unwrap().keys;
    assert_eq!(keys.len(), 2, "the content key and the legacy key");
}
both_backends!(cross_tenant);

/// Requests older than 24 hours are neither listed nor dismissable, and a new request of
/// the user clears them out.
async fn installation_requests_expire(b: Backend) {
    let app = TestCloud::spawn(b).await;
    let (alice, uid) = account(&app, "alice").await;
    let uid: Uuid = uid.parse().unwrap();
    let old = ViewerKeys::generate();
    let row = store::InstallationRow {
        key_id: old.id().into(),
        name: "Old tablet".into(),
        public: serde_json::to_string(old.public()).unwrap(),
        created_ms: unix_ms() - store::INSTALLATION_LIFE_MS - 1_000,
    };
    store::put_installation(&app.state.db, &uid, &row)
        .await
        .unwrap();
    assert!(
        alice
            .installations()
            .await
            .unwrap()
            .installations
            .is_empty()
    );
    assert_eq!(status(alice.dismiss_installation(old.id()).await), 404);
    let fresh = ViewerKeys::generate();
    alice
        .request_installation("Tablet", fresh.public())
        .await
        .unwrap();
    let left = store::installations(&app.state.db, &uid, 0).await.unwrap();
    assert_eq!(left.len(), 1, "the expired request is gone");
    assert_eq!(left[0].key_id, fresh.id());
}
both_backends!(installation_requests_expire);

/// `/api/openapi.json` documents every §13 call with each answer it gives (the document
/// does not depend on the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_section_13() {
    let app = TestCloud::spawn(Backend::Sqlite).await;
    let (s, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(s, 200);
    let calls: &[(&str, &str, &[&str])] = &[
        ("/api/v1/keyset", "get", &["200", "400", "401", "403"]),
        (
            "/api/v1/keyset",
            "post",
            &["201", "400", "401", "403", "409", "413"],
        ),
        (
            "/api/v1/devices/{id}/keyset",
            "get",
            &["200", "400", "401", "404"],
        ),
        (
            "/api/v1/devices/{id}/pairing",
            "get",
            &["200", "400", "401", "404"],
        ),
        (
            "/api/v1/devices/{id}/pairing/camera",
            "put",
            &["204", "400", "401", "403", "404", "413"],
        ),
        (
            "/api/v1/devices/{id}/pairing/viewer",
            "put",
            &["204", "400", "401", "403", "404", "409", "413"],
        ),
        (
            "/api/v1/devices/{id}/pairing/outcome",
            "put",
            &["204", "400", "401", "403", "404", "409", "413"],
        ),
        (
            "/api/v1/devices/{id}/content-keys",
            "post",
            &["201", "400", "401", "403", "404", "409", "413"],
        ),
        (
            "/api/v1/devices/{id}/content-keys/{key_id}/wraps",
            "post",
            &["204", "400", "401", "403", "404", "413"],
        ),
        (
            "/api/v1/devices/{id}/keys",
            "get",
            &["200", "400", "401", "404"],
        ),
        (
            "/api/v1/installations",
            "post",
            &["201", "400", "401", "403", "409", "413"],
        ),
        ("/api/v1/installations", "get", &["200", "401", "403"]),
        (
            "/api/v1/installations/{id}",
            "delete",
            &["204", "400", "401", "403", "404"],
        ),
        (
            "/api/v1/channels/{id}/recordings",
            "post",
            &["201", "400", "401", "403", "404", "409"],
        ),
    ];
    for (path, method, statuses) in calls {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} not documented");
        for s in *statuses {
            assert!(
                op["responses"][s].is_object(),
                "{method} {path} does not document {s}"
            );
        }
    }
    let param = |path: &str, method: &str, name: &str| -> Value {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // Key ids are hex, not UUIDs.
    let key_id = param(
        "/api/v1/devices/{id}/content-keys/{key_id}/wraps",
        "post",
        "key_id",
    );
    assert_eq!(key_id["in"], "path");
    assert!(key_id["schema"]["format"].is_null(), "{key_id}");
    let inst = param("/api/v1/installations/{id}", "delete", "id");
    assert!(inst["schema"]["format"].is_null(), "{inst}");
    assert_eq!(
        param("/api/v1/devices/{id}/keys", "get", "viewer_key")["in"],
        "query"
    );
    assert_eq!(param("/api/v1/keyset", "get", "since")["in"], "query");
    for schema in [
        "KeySetStatement",
        "KeySetList",
        "PairingState",
        "CameraHello",
        "ViewerAnswer",
        "NewContentKey",
        "AddWraps",
        "WrappedKey",
        "NewInstallation",
        "Installation",
        "InstallationList",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
}
