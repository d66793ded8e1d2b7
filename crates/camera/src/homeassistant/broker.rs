//! The user's broker: its URL, the login, and the rules for reaching it.
//!
//! `mqtt://[user@]host[:port]` (plain, port 1883) or `mqtts://[user@]host[:port]` (TLS,
//! port 8883). The password comes from a file (or, visible to every local user in `ps`,
//! from the URL). As everywhere in Eyrie, plain MQTT is refused to any host but loopback
//! before the login leaves the machine — unless the user says, with `allow_plain`, that
//! their own network may carry the broker password and the pictures in clear (Home
//! Assistant's Mosquitto add-on listens in plain on 1883 by default).

use std::path::{Path, PathBuf};

use super::HomeAssistantError;

/// Where and as whom the camera logs in.
#[derive(Clone, PartialEq, Eq)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Broker {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Broker {
    /// Parse `mqtt://` or `mqtts://` with an optional login; nothing after the port.
    pub fn parse(raw: &str) -> Result<Self, HomeAssistantError> {
        let bad = |why: &str| HomeAssistantError::BrokerUrl(format!("{raw:?}: {why}"));
        let url = url::Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
        let (tls, default_port) = match url.scheme() {
            "mqtt" | "tcp" => (false, 1883),
            "mqtts" | "ssl" => (true, 8883),
            other => return Err(bad(&format!("scheme {other} is not mqtt or mqtts"))),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        // `[::1]` in a URL is `::1` for a socket.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("only scheme, login, host and port belong in it"));
        }
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| bad("the login is not valid percent-encoded UTF-8"))
        };
        let username = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?;
        if password.is_some() && username.is_none() {
            return Err(bad("a password without a user name"));
        }
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            tls,
            username,
            password,
        })
    }

    /// Refuse plain MQTT off loopback unless `allow_plain`.
    pub fn check_plain(&self, allow_plain: bool) -> Result<(), HomeAssistantError> {
        if self.tls || allow_plain || eyrie_protocol::trust::is_loopback_host(&self.host) {
            Ok(())
        } else {
            Err(HomeAssistantError::Plain(self.host.clone()))
        }
    }

    /// Take the password from `file` (its first line), which wins over one in the URL.
    pub fn with_password_file(mut self, file: &Path) -> Result<Self, HomeAssistantError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| HomeAssistantError::PasswordFile(file.to_owned(), e.to_string()))?;
        let line = text.lines().next().unwrap_or("").to_owned();
        if line.is_empty() {
            return Err(HomeAssistantError::PasswordFile(
                file.to_owned(),
                "the file is empty".into(),
            ));
        }
        self.password = Some(line);
        Ok(self)
    }
}

/// The password file the camera uses when none is named: `<state dir>/homeassistant-password`.
pub fn default_password_file(state_dir: &Path) -> PathBuf {
    state_dir.join("homeassistant-password")
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_their_defaults_and_logins() {
        let b = Broker::parse("mqtt://ha@192.168.1.5").unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.tls),
            ("192.168.1.5", 1883, false)
        );
        assert_eq!(b.username.as_deref(), Some("ha"));
        assert_eq!(b.password, None);
        let b = Broker::parse("mqtts://cam%40home:p%3Ass@broker.lan:9883/").unwrap();
        assert_eq!((b.host.as_str(), b.port, b.tls), ("broker.lan", 9883, true));
        assert_eq!(b.username.as_deref(), Some("cam@home"));
        assert_eq!(b.password.as_deref(), Some("p:ss"));
        assert!(
            !format!("{b:?}").contains("p:ss"),
            "the password is not printed"
        );
        let b = Broker::parse("mqtt://[::1]:1884").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 1884));
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        for bad in [
            "http://host",
            "mqtt://",
            "mqtt://host/topic",
            "mqtt://host?x=1",
            "mqtt://:pw@host",
            "host:1883",
            "mqtt://u%ZZ@host",
        ] {
            let e = Broker::parse(bad).expect_err(bad);
            assert!(matches!(e, HomeAssistantError::BrokerUrl(_)), "{bad}: {e}");
        }
    }

    #[test]
    fn plain_mqtt_leaves_loopback_only_when_allowed() {
        let lan = Broker::parse("mqtt://192.168.1.5").unwrap();
        assert!(matches!(
            lan.check_plain(false),
            Err(HomeAssistantError::Plain(_))
        ));
        lan.check_plain(true).unwrap();
        Broker::parse("mqtt://127.0.0.1")
            .unwrap()
            .check_plain(false)
            .unwrap();
        Broker::parse("mqtts://192.168.1.5")
            .unwrap()
            .check_plain(false)
            .unwrap();
    }

    #[test]
    fn the_password_file_wins_and_an_empty_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\n").unwrap();
        let b = Broker::parse("mqtt://u:old@127.0.0.1")
            .unwrap()
            .with_password_file(&f)
            .unwrap();
        assert_eq!(b.password.as_deref(), Some("s3cret"));
        std::fs::write(&f, "").unwrap();
        assert!(
            Broker::parse("mqtt://u@127.0.0.1")
                .unwrap()
                .with_password_file(&f)
                .is_err()
        );
        assert!(
            Broker::parse("mqtt://u@127.0.0.1")
                .unwrap()
                .with_password_file(&dir.path().join("none"))
                .is_err()
        );
    }
}
