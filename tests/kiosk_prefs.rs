//! The kiosk's locked preferences, black box under a private Xvfb with a real test camera:
//! Ctrl+, (or a three-second press) on a locked kiosk asks for the PIN (typed with xdotool); a wrong PIN is refused
//! and the preferences stay closed, the right one opens them; the layout picked in the
//! preferences' row with the keyboard (Enter, Home, Enter) applies to the running kiosk. "Talk allowed" off keeps the talk button
//! off the HD tile; turned on, the button is there.

mod kiosk_support;

use kiosk_support::*;

fn named<'a>(ev: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    ev.iter().filter(|e| e["event"] == name).collect()
}

fn brief(report: &std::path::Path) -> Vec<serde_json::Value> {
    events(report)
        .into_iter()
        .filter(|e| e["event"] != "kiosk-frame")
        .collect()
}

/// The last `kiosk-tile` report of a live tile: its talk button shown or not.
fn live_talk(ev: &[serde_json::Value], since: usize) -> Option<bool> {
    ev[since.min(ev.len())..]
        .iter()
        .filter(|e| e["event"] == "kiosk-tile" && e["data"]["state"] == "live")
        .filter_map(|e| e["data"]["talk"].as_bool())
        .next_back()
}

#[test]
fn locked_preferences_take_the_pin_and_apply_the_layout_and_talk_setting() {
    let house = House::start(std::path::Path::new(env!("CARGO_BIN_EXE_eyrie")), 1, 8);
    let screen = Screen::start();
    let report = house.dir.path().join("kiosk.jsonl");
    let pin = glib_sha256("4321");
    let settings = vec![
        ("kiosk-layout", "'grid-2x2'".to_string()),
        ("kiosk-locked", "true".to_string()),
        ("kiosk-pin-sha256", format!("'{pin}'")),
        ("kiosk-talk-allowed", "false".to_string()),
        ("kiosk-event-focus", "false".to_string()),
    ];
    let mut kiosk = house.start_kiosk(&screen, &settings, &report);
    let cameras = house.camera_ids();
    let t0 = now_ms();
    assert!(
        wait_for(&report, 90, |ev| all_live_since(ev, &cameras, t0)).is_some(),
        "the kiosk never showed the camera: {:?}",
        brief(&report)
    );

    // A wrong PIN: refused, no preferences.
    screen.keys(&["ctrl+comma"], None);
    assert!(
        wait_for(&report, 10, |ev| named(ev, "kiosk-locked")
            .first()
            .is_some_and(|l| l["data"]["pin"] == true))
        .is_some(),
        "Ctrl+, did not ask for the PIN: {:?}",
        brief(&report)
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    screen.keys(&[], Some("1111"));
    screen.keys(&["Return"], None);
    assert!(
        wait_for(&report, 10, |ev| !named(ev, "kiosk-pin").is_empty()).is_some(),
        "the wrong PIN was not refused: {:?}",
        brief(&report)
    );
    assert!(named(&events(&report), "kiosk-preferences").is_empty());

    // The right PIN opens the preferences, whose layout row then picks "One camera".
    kiosk.stop(std::time::Duration::from_secs(5));
    let _ = std::fs::remove_file(&report);
    let mut cmd_settings = settings.clone();
    cmd_settings.push(("kiosk-cycle-seconds", "uint32 10".to_string()));
    let kiosk = house.start_kiosk(&screen, &cmd_settings, &report);
    let t1 = now_ms();
    assert!(
        wait_for(&report, 90, |ev| all_live_since(ev, &cameras, t1)).is_some(),
        "the kiosk never showed the camera again"
    );
    // In the grid (SD) there is no talk button whatever the setting.
    assert_eq!(live_talk(&events(&report), 0), Some(false));
    // A touch screen has no Ctrl+,: a three-second press anywhere (here an empty cell of
    // the grid) asks for the PIN; a one-second one, a person leaning on it, does not.
    screen.press(1100, 600, std::time::Duration::from_secs(1));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(
        named(&events(&report), "kiosk-locked").is_empty(),
        "a one-second press asked for the PIN"
    );
    screen.press(1100, 600, std::time::Duration::from_millis(3500));
    assert!(
        wait_for(&report, 10, |ev| !named(ev, "kiosk-locked").is_empty()).is_some(),
        "a three-second press asked for no PIN: {:?}",
        brief(&report)
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    screen.keys(&[], Some("4321"));
    screen.keys(&["Return"], None);
    assert!(
        wait_for(&report, 10, |ev| !named(ev, "kiosk-preferences").is_empty()).is_some(),
        "the right PIN did not open the preferences: {:?}",
        brief(&report)
    );
    assert!(named(&events(&report), "kiosk-pin").is_empty());
    // The layout row has the focus: open its list, go to its first entry, "One camera".
    std::thread::sleep(std::time::Duration::from_millis(800));
    screen.keys(&["Return"], None);
    std::thread::sleep(std::time::Duration::from_millis(500));
    screen.keys(&["Home"], None);
    std::thread::sleep(std::time::Duration::from_millis(200));
    screen.keys(&["Return"], None);
    let t2 = now_ms();
    assert!(
        wait_for(&report, 30, |ev| {
            named(ev, "kiosk-layout")
                .last()
                .is_some_and(|l| l["data"]["layout"] == "single" && l["data"]["hd"] == true)
                && all_live_since(ev, &cameras, t2)
        })
        .is_some(),
        "the layout picked in the preferences did not apply: {:?}",
        brief(&report)
    );
    // One camera in HD with talk not allowed: no talk button.
    assert_eq!(
        live_talk(&events(&report), 0),
        Some(false),
        "talk is not allowed"
    );
    drop(kiosk);

    // Talk allowed: the HD tile has its talk button.
    let _ = std::fs::remove_file(&report);
    let mut talk = settings.clone();
    talk.retain(|(k, _)| *k != "kiosk-talk-allowed" && *k != "kiosk-layout");
    talk.push(("kiosk-talk-allowed", "true".to_string()));
    talk.push(("kiosk-layout", "'single'".to_string()));
    let _kiosk = house.start_kiosk(&screen, &talk, &report);
    assert!(
        wait_for(&report, 60, |ev| live_talk(ev, 0) == Some(true)).is_some(),
        "talk allowed shows no talk button: {:?}",
        brief(&report)
    );
}

fn glib_sha256(s: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(s.as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
