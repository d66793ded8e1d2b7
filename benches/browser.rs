//! `cargo bench --features test-hooks --bench browser`: live view in a browser, through
//! WHEP, on this machine. Last line: one JSON object.
//!
//! Set-up: the cloud in this process (embedded broker, WHEP routes), a camera in this
//! process (test pattern with the pixel clock, 30 fps, HD + SD), headless Debian Chromium
//! over WebDriver on a page of the cloud's origin that opens the camera with the cloud's
//! own `/web/live.js` (`tests/whep_support/page.js`).
//!
//! - `chromium_ttff_p50_ms`: 10 sessions one after another (HD; after two warm-up
//!   sessions that are not counted), time from `openLive`
//!   being called to the first displayed frame whose pixel clock decodes (goal ≤ 400 on
//!   loopback). The page, live.js and the peer connection's start are included.
//! - `chromium_g2g_p50_ms`: glass-to-glass: for every displayed frame
//!   (`requestVideoFrameCallback`), the frame's expected display time on the wall clock
//!   minus the capture time its pixel clock carries; median over ~3 s of each session,
//!   pooled (goal ≤ 100). Same machine, same clock.
//! - `whep_setup_ms`: the cloud's own time between a POST arriving and the answer leaving,
//!   excluding the wait for the camera (its `Server-Timing: cloud;dur=`), median of 20
//!   POSTs of a Chromium offer (goal ≤ 20).

#[path = "../tests/whep_support/mod.rs"]
mod whep_support;

use std::time::Duration;

use serde_json::{Value, json};
use whep_support::browser::Browser;
use whep_support::{CHROMIUM_OFFER, PAGE_JS, world};

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn session(b: &Browser, base: &str, device: &str, token: &str) -> (f64, Vec<f64>) {
    b.goto(&format!("{base}/healthz")).await;
    let r = b
        .eval_async(PAGE_JS, json!([device, token, false, "hd"]))
        .await;
    assert_eq!(r, "ok", "{r}");
    let mut first = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut s = Value::Null;
    while std::time::Instant::now() < deadline {
        s = b
            .eval(
                "const r = window.__eyrie; return {errors: r.errors, clocks: r.clocks, first_ms: r.first_ms};",
                json!([]),
            )
            .await;
        assert!(
            s["errors"].as_array().is_none_or(|e| e.is_empty()),
            "{}",
            s["errors"]
        );
        if first.is_none() {
            first = s["first_ms"].as_f64();
            if first.is_some() {
                // Watch for three seconds more.
                tokio::time::sleep(Duration::from_secs(3)).await;
                continue;
            }
        } else {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = first.expect("a first frame");
    let g2g = s["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[1].as_f64().unwrap() - c[0].as_f64().unwrap())
        .collect();
    b.eval("window.__eyrie.live.close(); return 1;", json!([]))
        .await;
    (first, g2g)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let w = world(5, true).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The cloud's own time per POST.
    let mut setup = Vec::new();
    for _ in 0..20 {
        let r = w
            .post(w.device, Some(&w.token), "application/sdp", CHROMIUM_OFFER)
            .await;
        assert_eq!(r.status(), 201);
        let timing = r.headers()["server-timing"].to_str().unwrap().to_owned();
        let cloud: f64 = timing
            .split(',')
            .find_map(|p| p.trim().strip_prefix("cloud;dur="))
            .and_then(|d| d.parse().ok())
            .expect("cloud;dur");
        setup.push(cloud);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        let r = w
            .call(reqwest::Method::DELETE, &loc, &w.token, &[], "")
            .await;
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The POSTs above spent the account's WHEP budget (20 offers per 10 s).
    tokio::time::sleep(whep_support::POST_WINDOW).await;
    let b = Browser::start().await;
    let device = w.device.to_string();
    let mut ttff = Vec::new();
    let mut g2g = Vec::new();
    // Two sessions to warm the browser up (its first decoder start, the module cache).
    for _ in 0..2 {
        session(&b, &w.cloud.base, &device, &w.token).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for i in 0..10 {
        let (first, g) = session(&b, &w.cloud.base, &device, &w.token).await;
        eprintln!(
            "session {i}: first frame {first:.0} ms, g2g p50 {:.0} ms over {} frames",
            median(g.clone()),
            g.len()
        );
        ttff.push(first);
        g2g.extend(g);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    b.quit().await;
    println!(
        "{}",
        json!({
            "chromium_ttff_p50_ms": (median(ttff) * 10.0).round() / 10.0,
            "chromium_g2g_p50_ms": (median(g2g) * 10.0).round() / 10.0,
            "whep_setup_ms": (median(setup) * 100.0).round() / 100.0,
        })
    );
}
