//! `eyrie camera` options for cloud storage (flatten [`StorageArgs`] into the camera's
//! arguments); the node takes the same struct, defaulted, when the app starts a camera.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::StorageError;
use super::link::TlsOptions;
use super::motion::MotionConfig;
use super::service::StorageConfig;

/// Cloud storage options.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Where encrypted segments wait for upload (default: <state dir>/spool).
    #[arg(long)]
    pub spool_dir: Option<PathBuf>,
    /// Largest spool on disk, in MiB; the oldest segments are dropped beyond it.
    #[arg(long, default_value_t = 1024)]
    pub spool_max_mb: u64,
    /// Segment length in seconds (continuous recording).
    #[arg(long, default_value_t = 30.0)]
    pub segment_secs: f64,
    /// Seconds recorded before an event (at most the ring buffer's length).
    #[arg(long, default_value_t = 2.0)]
    pub pre_record: f64,
    /// Longest event, in seconds.
    #[arg(long, default_value_t = 300.0)]
    pub max_event_secs: f64,
    /// Leave audio out of recordings.
    #[arg(long)]
    pub no_record_audio: bool,
    /// Motion sensitivity 0–100 (0: motion detection off).
    #[arg(long, default_value_t = 50)]
    pub motion_sensitivity: u8,
    /// Seconds without motion before a motion event stops.
    #[arg(long, default_value_t = 10.0)]
    pub motion_cooldown: f64,
    /// Trust only this CA (PEM) for the cloud, the object store and an `mqtts` broker instead
    /// of the system roots.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Seconds between store-mode checks.
    #[arg(long, default_value_t = 10.0)]
    pub store_mode_poll: f64,
    /// Parallel uploads.
    #[arg(long, default_value_t = 2)]
    pub upload_concurrency: usize,
}

impl Default for StorageArgs {
    /// The command line's defaults, so a node started by the app records like
    /// `eyrie camera` does without a second list of numbers to keep in step.
    fn default() -> Self {
        use clap::{Args as _, FromArgMatches as _};
        let matches = Self::augment_args(clap::Command::new("defaults"))
            .no_binary_name(true)
            .get_matches_from(std::iter::empty::<String>());
        Self::from_arg_matches(&matches).expect("every storage option has a default")
    }
}

fn secs(s: f64, min: f64, max: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() {
        s.clamp(min, max)
    } else {
        min
    })
}

impl StorageArgs {
    pub fn tls(&self) -> TlsOptions {
        TlsOptions {
            ca_file: self.ca_file.clone(),
            ca_pem: None,
        }
    }

    /// Apply the options over the defaults from the device credentials.
    pub fn apply(
        &self,
        mut c: StorageConfig,
        state_dir: &std::path::Path,
    ) -> Result<StorageConfig, StorageError> {
        c.spool_dir = self
            .spool_dir
            .clone()
            .unwrap_or_else(|| state_dir.join("spool"));
        c.spool_max_bytes = self.spool_max_mb.max(1) * 1024 * 1024;
        c.segment_length = secs(self.segment_secs, 1.0, 600.0);
        c.pre_record = secs(self.pre_record, 0.0, 3600.0);
        c.max_event = secs(self.max_event_secs, 1.0, 86_400.0);
        c.audio = !self.no_record_audio;
        c.motion = (self.motion_sensitivity > 0).then(|| MotionConfig {
            sensitivity: self.motion_sensitivity.min(100),
            cooldown: secs(self.motion_cooldown, 0.5, 3600.0),
            ..MotionConfig::default()
        });
        c.mode_poll = secs(self.store_mode_poll, 0.2, 3600.0);
        c.upload.concurrency = self.upload_concurrency.clamp(1, 16);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_command_lines() {
        let d = StorageArgs::default();
        assert_eq!(d.spool_max_mb, 1024);
        assert_eq!(d.segment_secs, 30.0);
        assert_eq!(d.motion_sensitivity, 50);
        assert_eq!(d.upload_concurrency, 2);
        assert!(d.spool_dir.is_none() && !d.no_record_audio);
    }
}
