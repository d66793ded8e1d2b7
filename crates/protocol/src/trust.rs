//! How a camera or a viewer comes to trust a cloud (`docs/api.md`, "TLS and the cloud
//! link").
//!
//! - [`CaPin`]: the SHA-256 of a CA certificate (DER), written `sha256:<base64url>`.
//! - [`CloudLink`]: the cloud's address as `eyrie cloud` prints it and the app shows it,
//!   `https://host:8470#ca=sha256:…`. The fragment is never sent to the server; it tells
//!   the client which CA to expect, so the self-made CA of a cloud at home is trusted
//!   through the pairing, not through a switch that accepts any certificate. Without a
//!   pin the system's roots decide (a certificate from a public CA).
//! - [`check_plain`]: the one rule for every connection: plain HTTP or MQTT only to a
//!   loopback host, checked before anything is sent.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest as _;

/// Path of the cloud's CA certificate (PEM), served without authentication.
pub const CA_PATH: &str = "/api/v1/tls/ca.pem";

/// Why a cloud address or a certificate was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("not a cloud address: {0}")]
    BadLink(String),
    #[error("not a CA pin (expected sha256: and 43 base64url characters): {0}")]
    BadPin(String),
    #[error(
        "refusing plain {proto} to {host}: only loopback hosts may be reached without TLS (use the https:// cloud link `eyrie cloud` prints)"
    )]
    Plain { proto: &'static str, host: String },
    #[error("no certificate in the PEM text")]
    NoCertificate,
    #[error(
        "the cloud's CA certificate is {got}, the cloud link says {want}: not the cloud you paired with"
    )]
    PinMismatch { want: String, got: String },
    #[error("cannot fetch the cloud's CA certificate: {0}")]
    Fetch(String),
}

/// SHA-256 of a CA certificate's DER encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CaPin(pub [u8; 32]);

impl CaPin {
    pub fn of_der(der: &[u8]) -> Self {
        Self(sha2::Sha256::digest(der).into())
    }

    /// The pin of the first certificate in a PEM text.
    pub fn of_pem(pem: &[u8]) -> Result<Self, TrustError> {
        first_pem_certificate(pem)
            .map(|der| Self::of_der(&der))
            .ok_or(TrustError::NoCertificate)
    }

    /// Check that `pem` holds the pinned certificate.
    pub fn check_pem(&self, pem: &[u8]) -> Result<(), TrustError> {
        let got = Self::of_pem(pem)?;
        if got == *self {
            Ok(())
        } else {
            Err(TrustError::PinMismatch {
                want: self.to_string(),
                got: got.to_string(),
            })
        }
    }
}

impl fmt::Display for CaPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for CaPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for CaPin {
    type Err = TrustError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || TrustError::BadPin(s.chars().take(80).collect());
        let b64 = s
            .strip_prefix("sha256:")
            .or_else(|| s.strip_prefix("SHA256:"))
            .ok_or_else(bad)?;
        let raw = URL_SAFE_NO_PAD.decode(b64.trim()).map_err(|_| bad())?;
        Ok(Self(raw.try_into().map_err(|_| bad())?))
    }
}

impl serde::Serialize for CaPin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CaPin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The DER bytes of the first `CERTIFICATE` block of a PEM text.
pub fn first_pem_certificate(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = text.find(begin)? + begin.len();
    let end = start + text[start..].find("-----END CERTIFICATE-----")?;
    let body: String = text[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// A cloud's address with the CA it must present.
#[derive(Clone, PartialEq, Eq)]
pub struct CloudLink {
    /// Root URL (`https://host:port`), no path, no fragment.
    base: String,
    pub ca_pin: Option<CaPin>,
}

impl CloudLink {
    pub fn new(base: &str, ca_pin: Option<CaPin>) -> Result<Self, TrustError> {
        let mut link: CloudLink = base.parse()?;
        if ca_pin.is_some() {
            link.ca_pin = ca_pin;
        }
        Ok(link)
    }

    /// `https://host:port`, without a trailing slash (what API paths are appended to).
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn host(&self) -> String {
        url::Url::parse(&self.base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn is_https(&self) -> bool {
        self.base.starts_with("https://")
    }

    /// The plain rule for this link (see [`check_plain`]).
    pub fn check(&self) -> Result<(), TrustError> {
        check_plain(&self.base)
    }
}

impl FromStr for CloudLink {
    type Err = TrustError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || TrustError::BadLink(s.chars().take(200).collect());
        let (url, fragment) = match s.split_once('#') {
            Some((u, f)) => (u, Some(f)),
            None => (s, None),
        };
        let parsed = url::Url::parse(url).map_err(|_| bad())?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(bad());
        }
        let mut base = format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or(""));
        if let Some(port) = parsed.port() {
            base.push_str(&format!(":{port}"));
        }
        let path = parsed.path().trim_end_matches('/');
        base.push_str(path);
        let ca_pin = match fragment {
            None | Some("") => None,
            Some(f) => Some(
                f.split('&')
                    .find_map(|kv| kv.strip_prefix("ca="))
                    .ok_or_else(bad)?
                    .parse()?,
            ),
        };
        Ok(Self { base, ca_pin })
    }
}

impl fmt::Display for CloudLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)?;
        if let Some(pin) = &self.ca_pin {
            write!(f, "#ca={pin}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CloudLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A loopback name or address (`localhost`, 127.0.0.0/8, ::1).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Plain `http://` only to a loopback host; `https://` always; nothing else.
pub fn check_plain(url: &str) -> Result<(), TrustError> {
    let parsed = url::Url::parse(url).map_err(|_| TrustError::BadLink(url.into()))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if parsed.host_str().is_some_and(is_loopback_host) => Ok(()),
        "http" => Err(TrustError::Plain {
            proto: "HTTP",
            host: parsed.host_str().unwrap_or("").into(),
        }),
        _ => Err(TrustError::BadLink(url.into())),
    }
}

/// The same rule for a broker: plain MQTT only to a loopback host.
pub fn check_mqtt(host: &str, tls: bool) -> Result<(), TrustError> {
    if tls || is_loopback_host(host) {
        Ok(())
    } else {
        Err(TrustError::Plain {
            proto: "MQTT",
            host: host.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_round_trips_and_strips_the_fragment() {
        let pin = CaPin([7; 32]);
        let text = format!("https://10.0.0.5:8470/#ca={pin}");
        let link: CloudLink = text.parse().unwrap();
        assert_eq!(link.base(), "https://10.0.0.5:8470");
        assert_eq!(link.ca_pin, Some(pin));
        assert_eq!(link.to_string(), format!("https://10.0.0.5:8470#ca={pin}"));
        assert_eq!(link.to_string().parse::<CloudLink>().unwrap(), link);
        let plain: CloudLink = "http://127.0.0.1:8470".parse().unwrap();
        assert_eq!(plain.ca_pin, None);
        assert_eq!(plain.host(), "127.0.0.1");
    }

    #[test]
    fn bad_links_and_pins_are_refused() {
        for bad in [
            "ftp://x",
            "not a url",
            "https://h:1#ca=md5:xx",
            "https://h:1#ca=sha256:short",
            "https://h:1#foo=bar",
        ] {
            assert!(bad.parse::<CloudLink>().is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_is_for_loopback_only() {
        assert!(check_plain("http://127.0.0.1:1/x").is_ok());
        assert!(check_plain("http://localhost:1").is_ok());
        assert!(check_plain("http://[::1]:1").is_ok());
        assert!(check_plain("https://10.0.0.1:1").is_ok());
        assert!(matches!(
            check_plain("http://10.0.0.1:1"),
            Err(TrustError::Plain { .. })
        ));
        assert!(check_plain("http://0.0.0.0:1").is_err());
        assert!(check_mqtt("127.0.0.1", false).is_ok());
        assert!(check_mqtt("10.0.0.1", false).is_err());
        assert!(check_mqtt("10.0.0.1", true).is_ok());
    }

    #[test]
    fn pin_checks_the_certificate() {
        let der = b"not really a certificate but bytes";
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        );
        let pin = CaPin::of_der(der);
        assert!(pin.check_pem(pem.as_bytes()).is_ok());
        assert!(matches!(
            CaPin([0; 32]).check_pem(pem.as_bytes()),
            Err(TrustError::PinMismatch { .. })
        ));
        assert_eq!(CaPin::of_pem(b"nothing"), Err(TrustError::NoCertificate));
        assert_eq!(pin.to_string().parse::<CaPin>().unwrap(), pin);
    }
}
