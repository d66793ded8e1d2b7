//! One WAN-lab case set up: coturn and `eyrie cloud` in the internet, the camera role at
//! home with its pairing code printed; the viewer role is started by the caller (its own
//! code, this binary's `test` run again in the away namespace). Everything is the lab's
//! children: dropping the [`Wan`] stops it, also on panic.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};

use super::ChildGuard;
use super::roles::PAIRING;
use super::wan::{self, Wan};

/// The servers and the camera of one case.
pub struct Scene {
    pub turn: ChildGuard,
    pub cloud: ChildGuard,
    pub camera: ChildGuard,
    /// The cloud link (`https://203.0.113.1:8470#…`).
    pub link: String,
    /// The camera's pairing code.
    pub code: String,
    test: String,
    _dir: tempfile::TempDir,
}

impl Scene {
    /// Starts coturn (TURN over UDP and TCP), the cloud and the camera — this binary's
    /// `test` in the home namespace with the role `camera` ([`super::roles::camera_role`]).
    pub fn start(wan: &Wan, test: &str) -> Result<Scene> {
        let dir = tempfile::tempdir()?;
        let (data, state, turn_dir) = (
            dir.path().join("cloud"),
            dir.path().join("camera"),
            dir.path().join("turn"),
        );
        for d in [&data, &state, &turn_dir] {
            std::fs::create_dir_all(d)?;
        }
        let turn = wan.start_turn(&turn_dir)?;
        let (cloud, link) = wan.start_cloud(&data, &["udp", "tcp"])?;
        let camera = wan.spawn(
            wan.home
                .run_self(
                    test,
                    "camera",
                    &[
                        ("NAT_LINK", &link),
                        ("NAT_STATE", state.to_str().context("a UTF-8 temp dir")?),
                    ],
                )
                .env_remove(wan::ICE_ENV)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let code = wan::wait_line(&camera, PAIRING, Duration::from_secs(60))
            .context("the camera's pairing code")?;
        Ok(Scene {
            turn,
            cloud,
            camera,
            link,
            code,
            test: test.to_owned(),
            _dir: dir,
        })
    }

    /// Starts this binary's `test` in the away namespace with the role `viewer`, the
    /// cloud link and pairing code in `NAT_LINK` and `NAT_CODE`, and `envs`.
    pub fn viewer(&self, wan: &Wan, envs: &[(&str, &str)]) -> Result<ChildGuard> {
        wan.spawn(
            wan.away
                .run_self(
                    &self.test,
                    "viewer",
                    &[("NAT_LINK", &self.link), ("NAT_CODE", &self.code)],
                )
                .envs(envs.iter().copied())
                .env_remove(wan::ICE_ENV)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
    }

    /// Everyone's output, for a failing test's message.
    pub fn context(&self, viewer: &ChildGuard) -> String {
        format!(
            "--- viewer ---\n{}\n{}\n--- camera ---\n{}\n{}\n--- cloud ---\n{}\n--- coturn (tail) ---\n{}",
            viewer.stdout(),
            viewer.stderr(),
            self.camera.stdout(),
            tail(&self.camera.stderr(), 200),
            tail(&self.cloud.stderr(), 50),
            tail(&self.turn.stdout(), 30),
        )
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Finds the line starting with `prefix` in `stdout` and parses the rest as JSON.
pub fn report(stdout: &str, prefix: &str) -> Option<serde_json::Value> {
    stdout
        .lines()
        .find_map(|l| serde_json::from_str(l.trim_start().strip_prefix(prefix)?).ok())
}
