//! HAProxy (Debian's `haproxy`) in front of the cloud instances and the Garage nodes, as
//! a deployment runs them: one address for the API, one for S3; servers health-checked
//! every 500 ms, a request whose server died before answering sent again to another
//! (`retry-on` connection failures, empty answers and 502/503/504, `option redispatch`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::net::{free_port, wait_port};

/// A running HAProxy.
pub struct Haproxy {
    pub api_port: u16,
    pub s3_port: u16,
    conf: PathBuf,
    child: Option<Child>,
}

/// The HAProxy configuration for these API and S3 servers.
pub fn config(api_port: u16, s3_port: u16, api: &[u16], s3: &[u16]) -> String {
    let servers = |name: &str, ports: &[u16], check: &str| -> String {
        ports
            .iter()
            .enumerate()
            .map(|(i, p)| format!("    server {name}{i} 127.0.0.1:{p} {check}\n"))
            .collect()
    };
    format!(
        "global\n    maxconn 4096\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n\
         \x20   retries 3\n    option redispatch 1\n\
         \x20   retry-on conn-failure empty-response response-timeout 502 503 504\n\
         frontend api\n    bind 127.0.0.1:{api_port}\n    option forwardfor\n    default_backend clouds\n\
         backend clouds\n    balance roundrobin\n    option httpchk GET /healthz\n\
         {}\
         frontend s3\n    bind 127.0.0.1:{s3_port}\n    default_backend garage\n\
         backend garage\n    balance roundrobin\n    option tcp-check\n\
         {}",
        servers("cloud", api, "check inter 500ms fall 2 rise 2"),
        servers("garage", s3, "check inter 500ms fall 2 rise 2"),
    )
}

impl Haproxy {
    /// Start HAProxy in `dir` for these servers (loopback ports).
    pub fn start(dir: &Path, api: &[u16], s3: &[u16]) -> Result<Haproxy, String> {
        let (api_port, s3_port) = (free_port(), free_port());
        let conf = dir.join("haproxy.cfg");
        std::fs::write(&conf, config(api_port, s3_port, api, s3)).map_err(|e| e.to_string())?;
        let mut h = Haproxy {
            api_port,
            s3_port,
            conf,
            child: None,
        };
        h.run()?;
        Ok(h)
    }

    fn run(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.conf.with_file_name("haproxy.log"))
            .map_err(|e| e.to_string())?;
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("haproxy (apt install haproxy): {e}"))?;
        self.child = Some(child);
        for p in [self.api_port, self.s3_port] {
            if !wait_port(p, Duration::from_secs(10)) {
                return Err(format!("haproxy did not listen on {p}"));
            }
        }
        Ok(())
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
