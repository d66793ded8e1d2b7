//! A second, independent WHEP player: Python's aiortc (Debian `python3-aiortc`) watches
//! the camera through the cloud's endpoint, decodes frames and reads their pixel clock.

mod whep_support;

use std::time::Duration;

use whep_support::world;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiortc_decodes_frames_through_whep() {
    let w = world(5, true).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/whep_aiortc.py");
    let url = format!("{}?stream=sd", w.whep_url(w.device));
    let token = w.token.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("/usr/bin/python3")
            .args([script, &url, &token, "60"])
            .output()
            .expect("Debian python3 runs (apt install python3-aiortc: build-aux/setup)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aiortc player: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    eprintln!(
        "aiortc: {} frames, first after {} ms",
        v["frames"], v["first_frame_ms"]
    );
    assert_eq!(v["frames"], 60);
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(640), Some(360))
    );
    let clocks: Vec<u64> = v["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    // Under load a lost packet spoils frames until the next keyframe (2 s): not every
    // frame need be readable, but the readable ones must be many and in order.
    assert!(clocks.len() >= 10, "pixel clock readable: {clocks:?}");
    assert!(clocks.windows(2).all(|p| p[1] >= p[0]), "{clocks:?}");
    assert!(
        clocks.last().unwrap() - clocks.first().unwrap() >= 300,
        "the clock advances"
    );
    assert_eq!(v["deleted"], 200);
    for _ in 0..50 {
        if w.camera_sessions() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(w.camera_sessions(), 0, "DELETE freed the camera");
    assert_eq!(w.cloud.state.whep.session_count(), 0);
}
