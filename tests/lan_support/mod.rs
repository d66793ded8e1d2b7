//! The viewer's side of the LAN test and the live bench's two-host mode: watch a camera
//! through the cloud the way the app does (ticket from the API, signalling over the
//! broker, media peer to peer) and measure the first decoded frame and the picture's age
//! from the pixel clock.
#![allow(dead_code)] // the test and the bench use different parts

use std::time::Duration;

use eyrie_client::api::ApiClient;
use eyrie_client::live::{LiveViewer, ViewerConfig, ViewerEvent};
use uuid::Uuid;

use crate::lab::roles::clock_sink;

/// The suite keeps ICE on loopback with this; hosts of a lab gather on their own addresses.
pub const ICE_ENV: &str = "EYRIE_ICE_ADDRESSES";

/// `eyrie cloud --listen 0.0.0.0:8470` (embedded defaults, data in `data`) on `host`, and
/// the cloud link it prints.
pub fn start_cloud(
    lab: &crate::lab::Lab,
    host: &crate::lab::Host,
    data: &std::path::Path,
) -> Result<(crate::lab::ChildGuard, String), String> {
    let cloud = spawn_eyrie(lab, host, |c| {
        c.args(["cloud", "--listen", "0.0.0.0:8470", "--data-dir"])
            .arg(data);
    })?;
    let link = line_after(&cloud, "eyrie cloud: link", Duration::from_secs(60))
        .ok_or("the cloud printed no link")?;
    Ok((cloud, link))
}

/// `eyrie camera --cloud <link> --source test --speaker none --state-dir <state> <extra…>`
/// on `host`, and the pairing code it shows.
pub fn start_camera(
    lab: &crate::lab::Lab,
    host: &crate::lab::Host,
    link: &str,
    state: &std::path::Path,
    extra: &[&str],
) -> Result<(crate::lab::ChildGuard, String), String> {
    let camera = spawn_eyrie(lab, host, |c| {
        c.args([
            "camera",
            "--cloud",
            link,
            "--source",
            "test",
            "--speaker",
            "none",
        ])
        .arg("--state-dir")
        .arg(state)
        .args(extra);
    })?;
    let code = line_after(&camera, "Pairing code:", Duration::from_secs(60))
        .ok_or("the camera showed no pairing code")?;
    let code = code
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok((camera, code))
}

/// `eyrie` on `host` with the arguments `args` adds, output collected, ICE on the host's
/// own addresses.
fn spawn_eyrie(
    lab: &crate::lab::Lab,
    host: &crate::lab::Host,
    args: impl FnOnce(&mut std::process::Command),
) -> Result<crate::lab::ChildGuard, String> {
    let mut command = host.command(env!("CARGO_BIN_EXE_eyrie"));
    args(&mut command);
    command
        .env_remove(ICE_ENV)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    lab.spawn(&mut command).map_err(|e| e.to_string())
}

/// Poll a lab child's output for a line starting with `prefix`: the rest of that line,
/// None when the child ended first or nothing came within `timeout`.
pub fn line_after(
    child: &crate::lab::ChildGuard,
    prefix: &str,
    timeout: Duration,
) -> Option<String> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Some(line) = child
            .stdout()
            .lines()
            .find_map(|l| l.strip_prefix(prefix).map(|r| r.trim().to_owned()))
        {
            return Some(line);
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!(
                "the process ended ({status}) before printing {prefix:?}:\n{}\n{}",
                child.stdout(),
                child.stderr()
            );
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// One session's outcome.
#[derive(Debug, Clone)]
pub struct Watched {
    /// Offer published → first decoded frame.
    pub first_frame: Duration,
    /// Wall clock minus the capture time drawn into the newest frame, in ms.
    pub age_ms: i64,
    /// The broker login the ticket carried (to look for on the wire).
    pub mqtt_password: String,
    /// The ticket itself.
    pub ticket: String,
}

/// One live session with `device`: ticket, offer, first frame, the picture's age; closed
/// afterwards. Err with what went wrong.
pub async fn watch(user: &ApiClient, device: Uuid) -> Result<Watched, String> {
    let ticket = user
        .ticket(device, None)
        .await
        .map_err(|e| format!("ticket: {e}"))?;
    let (mqtt_password, ticket_text) = (ticket.mqtt.password.clone(), ticket.ticket.clone());
    let (sink, seen) = clock_sink();
    let mut cfg = ViewerConfig::new(ticket, sink);
    cfg.answer_timeout = Duration::from_secs(5);
    cfg.mqtt_ca = user.ca_pem().await.map_err(|e| e.to_string())?;
    let (viewer, mut rx) = LiveViewer::connect(cfg).map_err(|e| format!("connect: {e}"))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let first = loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ViewerEvent::FirstFrame { since_offer })) => break since_offer,
            Ok(Some(ViewerEvent::Error(e))) => return Err(format!("viewer: {e}")),
            Ok(Some(_)) => {}
            Ok(None) => return Err("the viewer ended".into()),
            Err(_) => return Err("no first frame within 10 s".into()),
        }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let clock = seen
        .lock()
        .ok()
        .and_then(|v| *v)
        .ok_or("no pixel clock in the frames")?;
    let age_ms = eyrie_client::pixel_clock::now_unix_ms() as i64 - clock as i64;
    viewer.close().await;
    Ok(Watched {
        first_frame: first,
        age_ms,
        mqtt_password,
        ticket: ticket_text,
    })
}

/// Wait until the cloud says `device` is online (its camera heartbeats).
pub async fn wait_online(user: &ApiClient, device: Uuid, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if user.device(device).await.is_ok_and(|d| d.online) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}
