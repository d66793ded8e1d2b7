//! A fast SigV4 query-string presigner for the URLs handed to clients.
//!
//! Listings presign one GET per segment (2,880 for a day), so this is on the hot path.
//! Compared with signing from scratch it caches the day's signing key
//! (`HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), "s3"), "aws4_request")`) and the
//! constant parts of the query, leaving per URL one SHA-256 of the canonical request and
//! one HMAC. The form is the standard one (AWS SigV4, `UNSIGNED-PAYLOAD`, `host` signed),
//! checked against s3s and Garage by the integration tests.
//!
//! An upload's PUT also signs `content-length` and `x-amz-checksum-sha256`
//! ([`Presigner::sign_with`]): the URL is then good for those exact bytes only, since the
//! store checks the signature over the headers the client sends and the checksum over the
//! body it receives (the embedded store before it keeps anything — [`super::verify`]).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

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
    pub fn sign(
        self: &Arc<Self>,
        method: &str,
        key: &str,
        expires: u64,
        now: time::OffsetDateTime,
    ) -> String {
        self.batch(method, expires, now).sign(key)
    }

    /// Presign `method` on `key` with `headers` (lower-case names, values as sent) signed
    /// besides `host`: the request must carry them exactly.
    pub fn sign_with(
        self: &Arc<Self>,
        method: &str,
        key: &str,
        expires: u64,
        now: time::OffsetDateTime,
        headers: &[(&str, &str)],
    ) -> String {
        self.batch_with(method, expires, now, headers).sign(key)
    }

    /// Everything that is the same for the URLs of one request (method, time, expiry),
    /// computed once: a listing signs thousands of keys with one [`Batch`].
    pub fn batch(self: &Arc<Self>, method: &str, expires: u64, now: time::OffsetDateTime) -> Batch {
        self.batch_with(method, expires, now, &[])
    }

    /// [`Presigner::batch`] with `headers` signed too (see [`Presigner::sign_with`]).
    pub fn batch_with(
        self: &Arc<Self>,
        method: &str,
        expires: u64,
        now: time::OffsetDateTime,
        headers: &[(&str, &str)],
    ) -> Batch {
        let mut signed: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 1);
        signed.push(("host", self.host.as_str()));
        signed.extend(headers.iter().filter(|(n, _)| *n != "host"));
        signed.sort_unstable_by_key(|(n, _)| *n);
        let names = signed.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(";");
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
        let mut query = String::with_capacity(256);
        query.push_str("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
        uri_encode(&self.access_key, false, &mut query);
        query.push_str("%2F");
        uri_encode(&scope, false, &mut query);
        let _ = write!(
            query,
            "&X-Amz-Date={amz_date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders="
        );
        uri_encode(&names, false, &mut query);
        let mut canonical_tail = String::with_capacity(query.len() + self.host.len() + 40);
        canonical_tail.push('\n');
        canonical_tail.push_str(&query);
        canonical_tail.push('\n');
        for (name, value) in &signed {
            let _ = writeln!(canonical_tail, "{name}:{}", value.trim());
        }
        canonical_tail.push('\n');
        canonical_tail.push_str(&names);
        canonical_tail.push_str("\nUNSIGNED-PAYLOAD");
        let mut mac =
            HmacSha256::new_from_slice(&self.signing_key(&day)).expect("HMAC takes any key");
        mac.update(format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n").as_bytes());
        Batch {
            presigner: self.clone(),
            method_line: format!("{method}\n"),
            canonical_tail,
            query,
            mac,
        }
    }
}

/// Signs many keys for one method, time and expiry (see [`Presigner::batch`]). Per key it
/// costs one SHA-256 of the canonical request and the tail of one HMAC whose key and
/// constant prefix are already absorbed.
pub struct Batch {
    presigner: Arc<Presigner>,
    /// `METHOD\n`.
    method_line: String,
    /// What follows the path in the canonical request.
    canonical_tail: String,
    /// The query without the signature.
    query: String,
    /// HMAC keyed with the day's key, fed the string-to-sign up to the request hash.
    mac: HmacSha256,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_into(bytes: &[u8], out: &mut String) {
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

impl Batch {
    /// The presigned URL of `key`.
    pub fn sign(&self, key: &str) -> String {
        let p = &self.presigner;
        let mut url = String::with_capacity(
            p.origin.len() + p.path_prefix.len() + key.len() * 3 / 2 + self.query.len() + 100,
        );
        url.push_str(&p.origin);
        let path_at = url.len();
        url.push_str(&p.path_prefix);
        uri_encode(key, true, &mut url);
        let mut h = Sha256::new();
        h.update(self.method_line.as_bytes());
        h.update(&url.as_bytes()[path_at..]);
        h.update(self.canonical_tail.as_bytes());
        let digest = h.finalize();
        let mut canonical = String::with_capacity(64);
        hex_into(&digest, &mut canonical);
        let mut mac = self.mac.clone();
        mac.update(canonical.as_bytes());
        let sig = mac.finalize().into_bytes();
        url.push('?');
        url.push_str(&self.query);
        url.push_str("&X-Amz-Signature=");
        hex_into(&sig, &mut url);
        url
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
        .map(Arc::new)
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
