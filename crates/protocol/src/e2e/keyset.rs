//! Key sets: which viewer keys may read a user's recordings.
//!
//! A key set statement is `{"body": base64url(JSON), "signer": key id, "sig":
//! base64url(Ed25519 signature)}`; the signature is over `"eyrie-keyset/1" 0x0a` followed
//! by the body's bytes exactly as carried, so nobody has to re-serialise JSON to check it.
//! The body is `{"v":1,"user_id","version","created_ms","keys":[KeySetMember…]}`.
//!
//! Version 1 is signed by one of its own members (the first installation). Every later
//! version `n + 1` must be signed by a member of version `n`. A reader that trusts some
//! version (the camera: the one its pairing authenticated) follows the chain from there
//! and never accepts a statement it cannot link to it; so the cloud can withhold a
//! statement, but not add a key, and a removed key cannot sign its way back in.

use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::viewer::{ViewerKeys, ViewerPublic};
use super::{KeyError, b64, unb64, unb64_vec};

/// Prefix of the signed message.
pub const SIGNING_LABEL: &[u8] = b"eyrie-keyset/1\n";
/// Most keys in one set (installations plus the recovery key).
pub const MAX_KEYS: usize = 32;
/// Largest body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// One key of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeySetMember {
    /// [`ViewerPublic::id`] of the key; readers check it.
    pub id: String,
    /// What the user calls the installation ("Laptop"), or "Recovery key".
    pub name: String,
    /// The recovery key rather than an installation.
    #[serde(default)]
    pub recovery: bool,
    #[serde(flatten)]
    pub public: ViewerPublic,
}

impl KeySetMember {
    pub fn new(keys: &ViewerKeys, name: &str, recovery: bool) -> Self {
        Self {
            id: keys.id().to_owned(),
            name: name.to_owned(),
            recovery,
            public: keys.public().clone(),
        }
    }
}

/// What a statement says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySetBody {
    /// Always 1.
    pub v: u32,
    pub user_id: String,
    pub version: u64,
    pub created_ms: i64,
    pub keys: Vec<KeySetMember>,
}

/// A signed key set as the cloud stores and serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeySetStatement {
    /// base64url of the body's JSON bytes.
    pub body: String,
    /// Id of the member key that signed.
    pub signer: String,
    /// Ed25519 signature, base64url.
    pub sig: String,
}

impl KeySetStatement {
    /// Sign `body` with `signer` (a member of the previous version, or of this one for
    /// version 1).
    pub fn sign(body: &KeySetBody, signer: &ViewerKeys) -> Self {
        let bytes = serde_json::to_vec(body).expect("body serialises");
        let mut msg = SIGNING_LABEL.to_vec();
        msg.extend_from_slice(&bytes);
        Self {
            body: b64(&bytes),
            signer: signer.id().to_owned(),
            sig: b64(&signer.sign(&msg)),
        }
    }

    fn body_bytes(&self) -> Result<Vec<u8>, KeyError> {
        unb64_vec(&self.body, "key set body", MAX_BODY_BYTES)
    }

    /// SHA-256 of the body bytes: what a pairing authenticates.
    pub fn digest(&self) -> Result<[u8; 32], KeyError> {
        Ok(Sha256::digest(self.body_bytes()?).into())
    }

    /// The body, checked for shape only (no signature): version 1 of the format, 1 to
    /// [`MAX_KEYS`] keys, unique ids that match their keys, names of 1–64 printable
    /// characters.
    pub fn read_body(&self) -> Result<KeySetBody, KeyError> {
        let bytes = self.body_bytes()?;
        let body: KeySetBody =
            serde_json::from_slice(&bytes).map_err(|_| KeyError::Malformed("key set body"))?;
        if body.v != 1 || body.version == 0 || body.keys.is_empty() || body.keys.len() > MAX_KEYS {
            return Err(KeyError::Malformed("key set body"));
        }
        let mut ids = std::collections::HashSet::new();
        for k in &body.keys {
            let name_ok = !k.name.trim().is_empty()
                && k.name.chars().count() <= 64
                && !k.name.chars().any(char::is_control);
            if !name_ok || k.public.id()? != k.id || !ids.insert(k.id.as_str()) {
                return Err(KeyError::Malformed("key set member"));
            }
            k.public.check()?;
        }
        Ok(body)
    }

    /// Check the signature against `signers` (the members allowed to sign this version).
    fn verify_with(&self, signers: &[KeySetMember], version: u64) -> Result<(), KeyError> {
        let signer = signers
            .iter()
            .find(|m| m.id == self.signer)
            .ok_or(KeyError::UnknownSigner(version))?;
        let sig = Signature::from_bytes(&unb64::<64>(&self.sig, "signature")?);
        let mut msg = SIGNING_LABEL.to_vec();
        msg.extend_from_slice(&self.body_bytes()?);
        signer
            .public
            .verifying_key()?
            .verify_strict(&msg, &sig)
            .map_err(|_| KeyError::BadSignature(version))
    }
}

/// A key set the holder has verified, and the statement it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    pub body: KeySetBody,
    pub statement: KeySetStatement,
}

impl KeySet {
    /// A set trusted without a chain (the pairing authenticated its digest), still
    /// required to be self-consistent: well-formed and signed by one of its members or,
    /// after version 1, by some key (the previous version is not known here, so the
    /// signer must be a member of this one or the pairing vouches for it anyway).
    pub fn pinned(statement: KeySetStatement, user_id: &str) -> Result<Self, KeyError> {
        let body = statement.read_body()?;
        if body.user_id != user_id {
            return Err(KeyError::OtherUser);
        }
        Ok(Self { body, statement })
    }

    /// Version 1 of a chain: signed by one of its own members.
    pub fn first(statement: KeySetStatement, user_id: &str) -> Result<Self, KeyError> {
        let body = statement.read_body()?;
        if body.user_id != user_id {
            return Err(KeyError::OtherUser);
        }
        if body.version != 1 {
            return Err(KeyError::NotNext {
                after: 0,
                got: body.version,
            });
        }
        statement.verify_with(&body.keys, 1)?;
        Ok(Self { body, statement })
    }

    /// The set that `statement` makes of this one: the next version, signed by one of this
    /// set's members, for the same user.
    pub fn next(&self, statement: KeySetStatement) -> Result<Self, KeyError> {
        let body = statement.read_body()?;
        if body.user_id != self.body.user_id {
            return Err(KeyError::OtherUser);
        }
        if body.version != self.body.version + 1 {
            return Err(KeyError::NotNext {
                after: self.body.version,
                got: body.version,
            });
        }
        statement.verify_with(&self.body.keys, body.version)?;
        Ok(Self { body, statement })
    }

    /// Follow `statements` (any order; versions at or below this one are skipped) as far
    /// as they link up. A statement that is the next version but does not verify is an
    /// error: the cloud served something nobody of this set signed.
    pub fn follow(&self, statements: &[KeySetStatement]) -> Result<Self, KeyError> {
        let mut sorted: Vec<(u64, &KeySetStatement)> = statements
            .iter()
            .filter_map(|s| s.read_body().ok().map(|b| (b.version, s)))
            .filter(|(v, _)| *v > self.body.version)
            .collect();
        sorted.sort_by_key(|(v, _)| *v);
        let mut cur = self.clone();
        for (v, s) in sorted {
            if v != cur.body.version + 1 {
                break;
            }
            cur = cur.next(s.clone())?;
        }
        Ok(cur)
    }

    /// A whole chain from version 1, as a new installation checks what the cloud serves
    /// against the key it already trusts (its own, or the recovery key): the result must
    /// still contain `anchor`.
    pub fn from_chain(statements: &[KeySetStatement], user_id: &str) -> Result<Self, KeyError> {
        let first = statements
            .iter()
            .find(|s| s.read_body().map(|b| b.version == 1).unwrap_or(false))
            .ok_or(KeyError::Malformed("key set chain without version 1"))?;
        Self::first(first.clone(), user_id)?.follow(statements)
    }

    pub fn version(&self) -> u64 {
        self.body.version
    }

    pub fn member(&self, id: &str) -> Option<&KeySetMember> {
        self.body.keys.iter().find(|m| m.id == id)
    }

    /// The next version with `keys` as members, signed by `signer` (which must be a member
    /// of this one for readers to accept it).
    pub fn successor(
        &self,
        keys: Vec<KeySetMember>,
        signer: &ViewerKeys,
        now_ms: i64,
    ) -> KeySetStatement {
        signed_version(
            self.body.user_id.clone(),
            self.body.version + 1,
            keys,
            signer,
            now_ms,
        )
    }
}

/// Version 1 of a user's key set: `keys` signed by `signer`, one of them.
pub fn first_statement(
    user_id: &str,
    keys: Vec<KeySetMember>,
    signer: &ViewerKeys,
    now_ms: i64,
) -> KeySetStatement {
    signed_version(user_id.to_owned(), 1, keys, signer, now_ms)
}

/// Version `version` of `user_id`'s key set, `keys` signed by `signer` (format 1).
fn signed_version(
    user_id: String,
    version: u64,
    keys: Vec<KeySetMember>,
    signer: &ViewerKeys,
    now_ms: i64,
) -> KeySetStatement {
    let body = KeySetBody {
        v: 1,
        user_id,
        version,
        created_ms: now_ms,
        keys,
    };
    KeySetStatement::sign(&body, signer)
}
