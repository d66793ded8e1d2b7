//! Eyrie camera mode (filled by the "Live preview" and "Camera cloud storage" issues).

use clap::Args;

/// `eyrie camera` options.
#[derive(Debug, Args)]
pub struct CameraArgs {
    /// Cloud service to register with.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    pub cloud: String,
}

/// Run camera mode until it is stopped.
pub async fn run(_args: CameraArgs) -> anyhow::Result<()> {
    anyhow::bail!("camera mode is not built yet")
}
