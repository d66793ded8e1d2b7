//! A mosquitto broker on a random loopback port: the broker production deployments use,
//! started for one test.
//!
//! Three shapes: anonymous ([`Mosquitto::start`]), logins checked against a password file
//! with the ACL file of `docs/signalling.md` ([`Mosquitto::with_users`]; each user's
//! password is its name), and a TLS-only listener ([`Mosquitto::with_tls`]). The broker can
//! be stopped and started again on the same port, as a restarted broker is.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use eyrie_protocol::api::MqttConnection;

use crate::net::{free_port, wait_port};

/// The ACL file of `docs/signalling.md`, § "Broker ACLs (mosquitto)".
pub const ACL: &str = "\
# Devices: user name = device id.
pattern readwrite eyrie/%u/#
# Viewers: write to a device's inbox under their own name, read their own outbox.
pattern write eyrie/+/in/%u
pattern read eyrie/+/out/%u
# Everybody may read presence.
pattern read eyrie/+/status
";

/// TLS listener files, in PEM.
pub struct TlsFiles {
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// A running mosquitto.
pub struct Mosquitto {
    pub port: u16,
    pub dir: tempfile::TempDir,
    tls: bool,
    child: Option<Child>,
}

impl Mosquitto {
    /// Anyone may connect and use any topic.
    pub fn start() -> Mosquitto {
        Mosquitto::launch(None, None)
    }

    /// Only `users` may log in (password = user name) and the documented ACL applies.
    pub fn with_users(users: &[&str]) -> Mosquitto {
        Mosquitto::launch(Some(users), None)
    }

    /// A TLS listener only, showing `files.cert`; anyone may connect.
    pub fn with_tls(files: &TlsFiles) -> Mosquitto {
        Mosquitto::launch(None, Some(files))
    }

    fn launch(users: Option<&[&str]>, tls: Option<&TlsFiles>) -> Mosquitto {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let d = dir.path();
        let mut conf = format!("listener {port} 127.0.0.1\npersistence false\nlog_dest none\n");
        if let Some(t) = tls {
            conf.push_str(&format!(
                "cafile {}\ncertfile {}\nkeyfile {}\n",
                t.ca.display(),
                t.cert.display(),
                t.key.display()
            ));
        }
        match users {
            Some(users) => {
                let pw = d.join("passwd");
                std::fs::write(&pw, "").expect("password file");
                for u in users {
                    let ok = Command::new("mosquitto_passwd")
                        .arg("-b")
                        .arg(&pw)
                        .args([u, u])
                        .status()
                        .expect("mosquitto_passwd (apt install mosquitto)");
                    assert!(ok.success(), "mosquitto_passwd failed for {u}");
                }
                std::fs::write(d.join("acl"), ACL).expect("acl file");
                conf.push_str(&format!(
                    "allow_anonymous false\npassword_file {}\nacl_file {}\n",
                    pw.display(),
                    d.join("acl").display()
                ));
            }
            None => conf.push_str("allow_anonymous true\n"),
        }
        std::fs::write(d.join("mosquitto.conf"), conf).expect("mosquitto.conf");
        let mut m = Mosquitto {
            port,
            dir,
            tls: tls.is_some(),
            child: None,
        };
        m.run();
        m
    }

    fn run(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt install mosquitto)");
        self.child = Some(child);
        assert!(
            wait_port(self.port, Duration::from_secs(10)),
            "mosquitto did not listen on {}",
            self.port
        );
    }

    /// Kill the broker (every connection drops).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kill it and start it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// How `user` (password = name) reaches this broker, topics under `prefix`.
    pub fn connection(&self, user: &str, prefix: &str) -> MqttConnection {
        MqttConnection {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: self.tls,
            username: user.into(),
            password: user.into(),
            client_id: format!("{user}-{:08x}", rand::random::<u32>()),
            topic_prefix: prefix.into(),
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}
