//! A fast SigV4 query-string presigner for the URLs handed to clients.
//!
//! Listings presign one GET per segment (2,880 for a day), so this is on the hot path.
//! Compared with signing from scratch it caches the day's signing key
//! (`HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), "s3"), "aws4_request")`) and the
//! constant parts of the query, leaving per URL one SHA-256 of the canonical request and
//! one HMAC. The form is the standard one (AWS SigV4, `UNSIGNED-PAYLOAD`, only `host`
//! signed), checked against s3s and Garage by the integration tests.

use std::fmt::Write as _;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// Percent-encode as SigV4 wants (unreserved kept; `/` kept when `keep_slash`).
pub fn uri_encode(s: &str, keep_slash: bool, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char);
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// Presigns GET and PUT URLs for one bucket.
pub struct Presigner {
    /// `scheme://host[:port]`.
    origin: String,
    /// `host[:port]` as sent in the Host header.
    host: String,
    /// Path before the key: `/bucket/` (path style) or `/` (virtual host).
    path_prefix: String,
    access_key: String,
    secret_key: String,
    region: String,
    /// (yyyymmdd, signing key) of the last day used.
    day_key: Mutex<Option<(String, [u8; 32])>>,
}

impl std::fmt::Debug for Presigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presigner")
            .field("origin", &self.origin)
            .finish()
    }
}

impl Presigner {
    pub fn new(
        endpoint: &url::Url,
        bucket: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
        virtual_host: bool,
    ) -> Option<Self> {
        let host_name = endpoint.host_str()?;
        let host_name = if virtual_host {
            format!("{bucket}.{host_name}")
        } else {
            host_name.to_owned()
        };
        let host = match endpoint.port() {
            Some(p) => format!("{host_name}:{p}"),
            None => host_name,
        };
        let base = endpoint.path().trim_end_matches('/');
        let path_prefix = if virtual_host {
            format!("{base}/")
        } else {
            let mut p = format!("{base}/");
            uri_encode(bucket, false, &mut p);
            p.push('/');
            p
        };
        Some(Self {
            origin: format!("{}://{host}", endpoint.scheme()),
            host,
            path_prefix,
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            day_key: Mutex::new(None),
        })
    }

    fn signing_key(&self, day: &str) -> [u8; 32] {
        if let Ok(guard) = self.day_key.lock()
            && let Some((d, k)) = guard.as_ref()
            && d == day
        {
            return *k;
        }
        let k = hmac(
            format!("AWS4{}", self.secret_key).as_bytes(),
            day.as_bytes(),
        );
        let k = hmac(&k, self.region.as_bytes());
        let k = hmac(&k, b"s3");
        let k = hmac(&k, b"aws4_request");
        if let Ok(mut guard) = self.day_key.lock() {
            *guard = Some((day.to_owned(), k));
        }
        k
    }

    /// Presign `method` on `key`, valid `expires` seconds from `now` (UTC).
    pub fn sign(&self, method: &str, key: &str, expires: u64, now: time::OffsetDateTime) -> String {
        let day = format!(
            "{:04}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        );
        let amz_date = format!(
            "{day}T{:02}{:02}{:02}Z",
            now.hour(),
            now.minute(),
            now.second()
        );
        let scope = format!("{day}/{}/s3/aws4_request", self.region);
        let mut path = String::with_capacity(self.path_prefix.len() + key.len() + 8);
        path.push_str(&self.path_prefix);
        uri_encode(key, true, &mut path);
        let mut query = String::with_capacity(256);
        query.push_str("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
        uri_encode(&self.access_key, false, &mut query);
        query.push_str("%2F");
        uri_encode(&scope, false, &mut query);
        let _ = write!(
            query,
            "&X-Amz-Date={amz_date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
        );
        let mut h = Sha256::new();
        for part in [
            method,
            "\n",
            &path,
            "\n",
            &query,
            "\nhost:",
            &self.host,
            "\n\nhost\nUNSIGNED-PAYLOAD",
        ] {
            h.update(part.as_bytes());
        }
        let canonical = hex::encode(h.finalize());
        let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{canonical}");
        let sig = hex::encode(hmac(&self.signing_key(&day), to_sign.as_bytes()));
        format!("{}{path}?{query}&X-Amz-Signature={sig}", self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The presigned GET example of the AWS SigV4 documentation ("Authenticating Requests:
    /// Using Query Parameters"), virtual-host style.
    #[test]
    fn matches_the_aws_example() {
        let p = Presigner::new(
            &"https://s3.amazonaws.com".parse().unwrap(),
            "examplebucket",
            "us-east-1",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            true,
        )
        .unwrap();
        let now = time::macros::datetime!(2013-05-24 00:00:00 UTC);
        let url = p.sign("GET", "test.txt", 86400, now);
        assert!(
            url.starts_with("https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=")
        );
        assert!(
            url.ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{url}"
        );
    }
}
