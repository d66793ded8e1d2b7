//! A mosquitto broker on a random loopback port: the broker production deployments use,
//! started for one test.
//!
//! Four shapes: anonymous ([`Mosquitto::start`]), logins checked against a password file
//! with the ACL file of `docs/signalling.md` ([`Mosquitto::with_users`]; each user's
//! password is its name), a TLS-only listener ([`Mosquitto::with_tls`]), and logins and
//! ACLs kept by the cloud through the dynamic security plugin ([`Mosquitto::with_dynsec`],
//! only its administrator exists at start). The broker can be stopped and started again
//! on the same port, as a restarted broker is; the dynamic security file survives that.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use eyrie_protocol::api::MqttConnection;

use crate::net::{free_port, wait_port};

/// The static part of the ACL file of `docs/signalling.md`, § "Broker ACLs (mosquitto)".
pub const ACL: &str = "\
# Devices: user name = device id; their own tree only.
pattern readwrite eyrie/%u/#
# Viewers: read their own outbox (only cameras write there, each in its own tree).
pattern read eyrie/+/out/%u
";

/// The per-owner part of the ACL: `viewer` may write its inbox of `device` and read its
/// presence (what the cloud's owner table grants).
pub fn owner_acl(viewer: &str, device: &str) -> String {
    format!(
        "user {viewer}\ntopic write eyrie/{device}/in/{viewer}\ntopic read eyrie/{device}/status\n"
    )
}

/// The broker limit of `docs/signalling.md`: a whole packet of at most 64 KiB + 512.
pub const MAX_PACKET_SIZE: usize = 64 * 1024 + 512;

/// TLS listener files, in PEM.
pub struct TlsFiles {
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Who may log in, and which (viewer, device) ownerships the ACL grants.
type Logins<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

/// The ACL file's text in place of the documented one.
type CustomAcl<'a> = Option<&'a str>;

/// Where Debian installs the dynamic security plugin (package `mosquitto`).
pub const DYNSEC_PLUGIN: &str = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so";

/// A running mosquitto.
pub struct Mosquitto {
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The dynamic security administrator (user, password), with [`Mosquitto::with_dynsec`].
    pub admin: Option<(String, String)>,
    tls: bool,
    child: Option<Child>,
}

impl Mosquitto {
    /// Anyone may connect and use any topic.
    pub fn start() -> Mosquitto {
        Mosquitto::launch(None, None, None)
    }

    /// Only `users` may log in (password = user name) and the documented ACL applies;
    /// every `viewer-…` user owns every other user (a device).
    pub fn with_users(users: &[&str]) -> Mosquitto {
        let devices = users.iter().filter(|u| !u.starts_with("viewer-"));
        let owners: Vec<(&str, &str)> = users
            .iter()
            .filter(|u| u.starts_with("viewer-"))
            .flat_map(|v| devices.clone().map(move |d| (*v, *d)))
            .collect();
        Mosquitto::launch(Some((users, &owners)), None, None)
    }

    /// Tenants: each (viewer, device) pair is a user and the camera it owns; all of them
    /// may log in (password = name), with the documented ACL and size limit.
    pub fn with_tenants(tenants: &[(&str, &str)]) -> Mosquitto {
        let users: Vec<&str> = tenants.iter().flat_map(|(v, d)| [*v, *d]).collect();
        Mosquitto::launch(Some((&users, tenants)), None, None)
    }

    /// Only `users` may log in (password = user name), under this ACL file's text
    /// (brokers that are not Eyrie's: the user's own, Home Assistant's).
    pub fn with_acl(users: &[&str], acl: &str) -> Mosquitto {
        Mosquitto::launch(Some((users, &[])), None, Some(acl))
    }

    /// A TLS listener only, showing `files.cert`; anyone may connect.
    pub fn with_tls(files: &TlsFiles) -> Mosquitto {
        Mosquitto::launch(None, Some(files), None)
    }

    /// Logins and ACLs from the dynamic security plugin; only the administrator
    /// ([`Mosquitto::admin`]) exists at start, anonymous clients are refused.
    pub fn with_dynsec() -> Mosquitto {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let d = dir.path();
        let file = d.join("dynamic-security.json");
        let (user, password) = (
            "eyrie-admin".to_owned(),
            format!("{:032x}", rand::random::<u128>()),
        );
        let ok = Command::new("mosquitto_ctrl")
            .args(["dynsec", "init"])
            .arg(&file)
            .args([&user, &password])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("mosquitto_ctrl (apt install mosquitto-clients)");
        assert!(ok.success(), "mosquitto_ctrl dynsec init failed");
        // mosquitto started as root runs as the `mosquitto` user and saves the file by
        // writing a new one beside it: both must be writable by it.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let conf = format!(
            "listener {port} 127.0.0.1\npersistence false\nlog_dest none\nallow_anonymous false\n\
             max_packet_size {MAX_PACKET_SIZE}\nplugin {DYNSEC_PLUGIN}\nplugin_opt_config_file {}\n",
            file.display()
        );
        std::fs::write(d.join("mosquitto.conf"), conf).expect("mosquitto.conf");
        let mut m = Mosquitto {
            port,
            dir,
            admin: Some((user, password)),
            tls: false,
            child: None,
        };
        m.run();
        m
    }

    fn launch(
        users: Option<Logins<'_>>,
        tls: Option<&TlsFiles>,
        custom_acl: CustomAcl<'_>,
    ) -> Mosquitto {
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
            Some((users, owners)) => {
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
                let mut acl = custom_acl.unwrap_or(ACL).to_owned();
                for (v, dev) in owners {
                    acl.push_str(&owner_acl(v, dev));
                }
                std::fs::write(d.join("acl"), acl).expect("acl file");
                conf.push_str(&format!(
                    "allow_anonymous false\npassword_file {}\nacl_file {}\nmax_packet_size {MAX_PACKET_SIZE}\n",
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
            admin: None,
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

    /// Start it again on the same port after [`Mosquitto::stop`] (its state file kept).
    pub fn resume(&mut self) {
        self.run();
    }

    /// Kill it and start it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// The cloud's broker settings for this mosquitto: clients are sent here, and with
    /// [`Mosquitto::with_dynsec`] the cloud administers its logins and ACLs.
    pub fn cloud_config(&self) -> eyrie_cloud::MqttConfig {
        eyrie_cloud::MqttConfig::External {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: self.tls,
            admin: self.admin.as_ref().map(|(user, password)| {
                eyrie_cloud::mqtt::dynsec::AdminLogin {
                    host: "127.0.0.1".into(),
                    port: self.port,
                    username: user.clone(),
                    password: password.clone(),
                }
            }),
        }
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
