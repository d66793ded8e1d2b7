//! Secrets: random tokens, token digests, password hashing and the master key that wraps
//! what the cloud must keep recoverable (device secrets, recording keys).
//!
//! Bearer tokens are random and stored only as SHA-256 digests, so a database leak does
//! not hand out sessions. Passwords use Argon2id at the OWASP-recommended strength; only
//! tests may lower it, through [`PasswordParams`] in the library config (there is no flag).
//! Device secrets and recording keys must be given back later, so they are sealed with
//! AES-256-GCM under a 32-byte master key kept outside the database (a 0600 file under the
//! data directory, or `EYRIE_MASTER_KEY`), bound to their row by the associated data.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Hex SHA-256 of a token, the form tokens are stored and looked up in.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy)]
pub struct PasswordParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for PasswordParams {
    /// OWASP 2023: Argon2id, 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self {
            m_cost_kib: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

impl PasswordParams {
    fn argon2(self) -> argon2::Argon2<'static> {
        let params = argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, None)
            .unwrap_or_default();
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
    }

    /// PHC string of the password.
    pub fn hash(self, password: &str) -> Result<String, String> {
        let mut raw = [0u8; 16];
        rand::fill(&mut raw);
        let salt = SaltString::encode_b64(&raw).map_err(|e| e.to_string())?;
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    }

    /// Check a password against a stored PHC string (the parameters come from the string).
    pub fn verify(self, password: &str, phc: &str) -> bool {
        PasswordHash::new(phc).is_ok_and(|h| {
            self.argon2()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    }
}

/// The key that seals recoverable secrets in the database.
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    pub fn from_bytes(raw: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new_from_slice(raw).expect("32-byte key"))
    }

    /// Seal `plain`, bound to `context` (e.g. the row id): `base64url(nonce || ciphertext)`.
    pub fn wrap(&self, context: &str, plain: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::fill(&mut nonce);
        let ct = self
            .0
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for in-memory sizes");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Open what [`Self::wrap`] sealed with the same context.
    pub fn unwrap(&self, context: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        self.0
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .ok()
    }
}

/// Write a secret file readable by the owner only.
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents)
}

/// Load the master key from `EYRIE_MASTER_KEY` (base64url, 32 bytes) or `dir/master.key`,
/// creating the file (mode 0600) on first start.
pub fn load_master_key(env: Option<&str>, dir: &std::path::Path) -> anyhow::Result<MasterKey> {
    let decode = |s: &str| -> anyhow::Result<[u8; 32]> {
        let raw = URL_SAFE_NO_PAD.decode(s.trim())?;
        raw.try_into()
            .map_err(|_| anyhow::anyhow!("master key must be 32 bytes"))
    };
    if let Some(v) = env {
        return Ok(MasterKey::from_bytes(&decode(v)?));
    }
    let path = dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(MasterKey::from_bytes(&decode(&s)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut raw = [0u8; 32];
            rand::fill(&mut raw);
            write_private(&path, URL_SAFE_NO_PAD.encode(raw).as_bytes())?;
            Ok(MasterKey::from_bytes(&raw))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trip_and_binding() {
        let k = MasterKey::from_bytes(&[7; 32]);
        let s = k.wrap("dev1", b"secret");
        assert_eq!(k.unwrap("dev1", &s).as_deref(), Some(&b"secret"[..]));
        assert!(k.unwrap("dev2", &s).is_none());
        assert!(k.unwrap("dev1", "garbage").is_none());
    }

    #[test]
    fn passwords() {
        let p = PasswordParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        };
        let h = p.hash("hunter22").unwrap();
        assert!(p.verify("hunter22", &h));
        assert!(!p.verify("hunter23", &h));
        assert!(!p.verify("x", "not a phc"));
    }
}
