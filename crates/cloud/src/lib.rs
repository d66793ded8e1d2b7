//! Eyrie cloud service: the NVR API (filled by the "Cloud service" issue).

use clap::Args;

/// `eyrie cloud` options.
#[derive(Debug, Args)]
pub struct CloudArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8470")]
    pub listen: std::net::SocketAddr,
    /// Directory for the embedded database, object store and credentials.
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
}

/// Run the cloud service until it is stopped.
pub async fn run(_args: CloudArgs) -> anyhow::Result<()> {
    anyhow::bail!("the cloud service is not built yet")
}
