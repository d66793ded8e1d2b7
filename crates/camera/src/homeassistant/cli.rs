//! `eyrie camera --homeassistant …` (flatten [`HomeAssistantArgs`] into the camera's
//! arguments).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::broker::{Broker, default_password_file};
use super::{HomeAssistantError, HomeAssistantSettings};

/// Home Assistant MQTT discovery options (`docs/home-assistant.md`).
#[derive(Debug, Clone, Args)]
pub struct HomeAssistantArgs {
    /// Publish Home Assistant MQTT discovery on this broker: mqtt://[user@]host[:port] or
    /// mqtts://[user@]host[:port]. The password goes in --homeassistant-password-file (a
    /// password in the URL works too, but every local user sees it in `ps`).
    #[arg(long, value_name = "URL")]
    pub homeassistant: Option<String>,
    /// File whose first line is the broker password (default:
    /// <state dir>/homeassistant-password, when it exists).
    #[arg(long, value_name = "FILE")]
    pub homeassistant_password_file: Option<PathBuf>,
    /// CA certificates (PEM) to check an mqtts:// broker with instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub homeassistant_ca_file: Option<PathBuf>,
    /// Allow plain mqtt:// to a host other than loopback: the broker password and the
    /// snapshots then cross your network in clear.
    #[arg(long)]
    pub homeassistant_allow_plain: bool,
    /// Home Assistant's discovery prefix.
    #[arg(long, default_value = "homeassistant", value_name = "PREFIX")]
    pub homeassistant_prefix: String,
    /// The camera's name in Home Assistant.
    #[arg(long, default_value = "Eyrie camera", value_name = "NAME")]
    pub homeassistant_name: String,
    /// Seconds between two snapshots sent to Home Assistant (1–3600).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub homeassistant_snapshot_secs: f64,
}

impl HomeAssistantArgs {
    /// The settings these options describe; `None` without `--homeassistant`. Refuses a
    /// bad URL, an unreadable password or CA file, and plain MQTT off loopback unless
    /// allowed — before the camera starts, so nothing runs half configured.
    pub fn settings(
        &self,
        state_dir: &Path,
    ) -> Result<Option<HomeAssistantSettings>, HomeAssistantError> {
        let Some(url) = &self.homeassistant else {
            return Ok(None);
        };
        let mut broker = Broker::parse(url)?;
        let default_file = default_password_file(state_dir);
        match &self.homeassistant_password_file {
            Some(file) => broker = broker.with_password_file(file)?,
            None if broker.password.is_none() && default_file.exists() => {
                broker = broker.with_password_file(&default_file)?;
            }
            None => {}
        }
        broker.check_plain(self.homeassistant_allow_plain)?;
        let mut s = HomeAssistantSettings::new(broker);
        s.allow_plain = self.homeassistant_allow_plain;
        s.ca_pem = self
            .homeassistant_ca_file
            .as_ref()
            .map(|f| {
                std::fs::read(f).map_err(|e| HomeAssistantError::CaFile(f.clone(), e.to_string()))
            })
            .transpose()?;
        if self.homeassistant_prefix.is_empty()
            || self.homeassistant_prefix.contains(['+', '#'])
            || self.homeassistant_prefix.ends_with('/')
        {
            return Err(HomeAssistantError::Invalid(format!(
                "discovery prefix {:?}",
                self.homeassistant_prefix
            )));
        }
        s.discovery_prefix = self.homeassistant_prefix.clone();
        if self.homeassistant_name.trim().is_empty() {
            return Err(HomeAssistantError::Invalid("an empty name".into()));
        }
        s.name = self.homeassistant_name.trim().to_owned();
        let secs = self.homeassistant_snapshot_secs;
        if !(secs.is_finite() && (1.0..=3600.0).contains(&secs)) {
            return Err(HomeAssistantError::Invalid(format!(
                "snapshot interval {secs} s (1–3600)"
            )));
        }
        s.snapshot_interval = Duration::from_secs_f64(secs);
        Ok(Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        ha: HomeAssistantArgs,
    }

    fn parse(args: &[&str]) -> HomeAssistantArgs {
        T::parse_from(std::iter::once("t").chain(args.iter().copied())).ha
    }

    #[test]
    fn without_the_flag_nothing_runs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(parse(&[]).settings(dir.path()).unwrap().is_none());
    }

    #[test]
    fn the_password_comes_from_the_state_dir_file_unless_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(default_password_file(dir.path()), "fromstate\n").unwrap();
        let s = parse(&["--homeassistant", "mqtt://cam@127.0.0.1:1884"])
            .settings(dir.path())
            .unwrap()
            .unwrap();
        assert_eq!(s.broker.password.as_deref(), Some("fromstate"));
        assert_eq!(s.broker.port, 1884);
        let other = dir.path().join("pw");
        std::fs::write(&other, "named").unwrap();
        let s = parse(&[
            "--homeassistant",
            "mqtt://cam@127.0.0.1",
            "--homeassistant-password-file",
            other.to_str().unwrap(),
        ])
        .settings(dir.path())
        .unwrap()
        .unwrap();
        assert_eq!(s.broker.password.as_deref(), Some("named"));
    }

    #[test]
    fn bad_options_are_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [
            vec!["--homeassistant", "mqtt://192.168.1.9"],
            vec!["--homeassistant", "ftp://127.0.0.1"],
            vec![
                "--homeassistant",
                "mqtt://127.0.0.1",
                "--homeassistant-snapshot-secs",
                "0",
            ],
            vec![
                "--homeassistant",
                "mqtt://127.0.0.1",
                "--homeassistant-prefix",
                "home/#",
            ],
            vec![
                "--homeassistant",
                "mqtt://u@127.0.0.1",
                "--homeassistant-password-file",
                "/nonexistent/pw",
            ],
        ] {
            assert!(parse(&bad).settings(dir.path()).is_err(), "{bad:?}");
        }
        parse(&[
            "--homeassistant",
            "mqtt://192.168.1.9",
            "--homeassistant-allow-plain",
        ])
        .settings(dir.path())
        .unwrap()
        .unwrap();
    }
}
