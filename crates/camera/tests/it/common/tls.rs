//! A throw-away PKI for the MQTT-over-TLS tests, made with the `openssl` command at test
//! time: a CA, a broker certificate it signs for 127.0.0.1/localhost, and a second,
//! unrelated CA that must be refused.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestPki {
    pub dir: tempfile::TempDir,
    /// The CA that signed the broker's certificate (PEM).
    pub ca_pem: Vec<u8>,
    /// A CA that signed nothing the broker shows (PEM).
    pub wrong_ca_pem: Vec<u8>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn self_signed_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=Eyrie test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

impl TestPki {
    pub fn generate() -> TestPki {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        self_signed_ca(d, "ca");
        self_signed_ca(d, "wrong-ca");
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        // mosquitto started as root drops to its own user before reading these: let it.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        for f in ["ca.crt", "server.crt", "server.key"] {
            std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let ca_pem = std::fs::read(d.join("ca.crt")).unwrap();
        let wrong_ca_pem = std::fs::read(d.join("wrong-ca.crt")).unwrap();
        TestPki {
            dir,
            ca_pem,
            wrong_ca_pem,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The broker's listener files: the CA, its certificate and key.
    pub fn broker_files(&self) -> eyrie_testkit::mosquitto::TlsFiles {
        eyrie_testkit::mosquitto::TlsFiles {
            ca: self.path("ca.crt"),
            cert: self.path("server.crt"),
            key: self.path("server.key"),
        }
    }
}
