// This browser as a viewer installation (docs/keys.md, docs/web-viewer.md).
//
// Design: a browser cannot hold the seed other installations derive their keys from
// without that seed being readable by script, so it makes its two key pairs with WebCrypto
// directly — X25519 (HPKE recipient) and Ed25519 (identity in key sets) — with
// `extractable: false`, and keeps the CryptoKey objects in IndexedDB (structured clone
// keeps them non-extractable). docs/keys.md §1 allows such generated pairs; the public
// halves, key id and fingerprint are computed exactly as for a seed-derived key.
//
// Opening a wrapped content key is HPKE base mode (RFC 9180) with DHKEM(X25519,
// HKDF-SHA256), HKDF-SHA256 and AES-256-GCM, built here from WebCrypto's X25519
// deriveBits, HMAC-SHA256 (LabeledExtract/LabeledExpand) and AES-GCM.

import { api } from './api.js';

const te = new TextEncoder();
const subtle = () => {
  if (!globalThis.crypto?.subtle) {
    throw new Error('This page is not in a secure context (HTTPS or localhost), so the browser offers no WebCrypto: recordings cannot be opened.');
  }
  return crypto.subtle;
};

export const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
};
const i2osp = (v, n) => {
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) { out[i] = v & 0xff; v >>= 8; }
  return out;
};
export const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

export function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
export function unb64url(text, len) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
  const out = Uint8Array.from(s, (c) => c.charCodeAt(0));
  if (len !== undefined && out.length !== len) throw new Error(`expected ${len} bytes, got ${out.length}`);
  return out;
}

/// `label 0x00 a 0x00 b …` (docs/keys.md).
export const labelled = (label, parts) =>
  concat(te.encode(label), ...parts.flatMap((p) => [new Uint8Array([0]), p]));

const sha256 = async (b) => new Uint8Array(await subtle().digest('SHA-256', b));

export async function keyId(x25519, ed25519) {
  return hex((await sha256(labelled('eyrie-viewer/1', [x25519, ed25519]))).slice(0, 8));
}

export async function fingerprint(x25519, ed25519) {
  const h = await sha256(labelled('eyrie-fingerprint/1', [x25519, ed25519]));
  let n = 0n;
  for (const b of h.slice(0, 8)) n = (n << 8n) | BigInt(b);
  const s = (n % 1000000000000n).toString().padStart(12, '0');
  return `${s.slice(0, 4)} ${s.slice(4, 8)} ${s.slice(8)}`;
}

// ---- IndexedDB: one installation per account, by user id ----

function db() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('eyrie-web', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('installations', { keyPath: 'user' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
async function idb(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction('installations', mode);
    const req = fn(tx.objectStore('installations'));
    tx.oncomplete = () => { d.close(); resolve(req.result); };
    tx.onerror = () => { d.close(); reject(tx.error); };
    tx.onabort = () => { d.close(); reject(tx.error); };
  });
}

const made = new Map();

/// This browser's installation for `userId`, made (and stored) on first use. One per
/// account and browser profile: concurrent callers (two tabs, two views) end up with the
/// first pair stored, never two.
export function installation(userId) {
  if (!made.has(userId)) {
    const p = loadOrMake(userId);
    made.set(userId, p);
    p.catch(() => made.delete(userId));
  }
  return made.get(userId);
}

async function loadOrMake(userId) {
  let rec = await idb('readonly', (s) => s.get(userId));
  if (!rec) {
    const x = await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
    const e = await subtle().generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    try {
      // `add` refuses to overwrite: another tab that stored its pair first wins.
      await idb('readwrite', (s) => s.add({ user: userId, x, e, created_ms: Date.now() }));
    } catch (_) { /* stored meanwhile */ }
    rec = await idb('readonly', (s) => s.get(userId));
  }
  const xPub = new Uint8Array(await subtle().exportKey('raw', rec.x.publicKey));
  const ePub = new Uint8Array(await subtle().exportKey('raw', rec.e.publicKey));
  return {
    userId,
    x: rec.x,
    xPub,
    public: { x25519: b64url(xPub), ed25519: b64url(ePub) },
    id: await keyId(xPub, ePub),
    fingerprint: await fingerprint(xPub, ePub),
  };
}

export function browserName() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Chrom(e|ium)\//.test(ua) ? 'Chromium'
    : /Firefox\//.test(ua) ? 'Firefox' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS'
    : /Linux/.test(ua) ? 'Linux' : /Mac OS/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : '';
  return `Web browser (${browser}${os ? ` on ${os}` : ''})`;
}

/// Ask to be admitted (docs/api.md §13 `POST /installations`).
export function requestAdmission(inst) {
  return api('POST', '/installations', { name: browserName(), public: inst.public });
}

// ---- key sets: follow the chain from version 1, checking every signature ----

async function verifyStatement(st, signers) {
  const signer = signers.find((k) => k.id === st.signer);
  if (!signer) return false;
  const pub = await subtle().importKey('raw', unb64url(signer.ed25519, 32), { name: 'Ed25519' }, false, ['verify']);
  const msg = concat(te.encode('eyrie-keyset/1\n'), unb64url(st.body));
  return subtle().verify({ name: 'Ed25519' }, pub, unb64url(st.sig, 64), msg);
}

/// The account's latest key set body, every link checked (version 1 signed by one of its
/// members, each next one by a member of the one before). null when there is none.
export async function keySet(userId) {
  const { statements } = await api('GET', '/keyset?since=0');
  let current = null;
  for (const st of statements) {
    const body = JSON.parse(new TextDecoder().decode(unb64url(st.body)));
    const expected = current ? current.version + 1 : 1;
    if (body.v !== 1 || body.user_id !== userId || body.version !== expected) {
      throw new Error(`the key set chain is broken at version ${body.version}`);
    }
    for (const k of body.keys) {
      if (await keyId(unb64url(k.x25519, 32), unb64url(k.ed25519, 32)) !== k.id) {
        throw new Error(`key set version ${body.version} lists a key under a wrong id`);
      }
    }
    if (!(await verifyStatement(st, (current || body).keys))) {
      throw new Error(`key set version ${body.version} is not signed by a member of the one before`);
    }
    current = body;
  }
  return current;
}

// ---- HPKE base mode open (RFC 9180), single shot, sequence 0 ----

const EMPTY = new Uint8Array(0);
const V1 = te.encode('HPKE-v1');
const KEM_SUITE = concat(te.encode('KEM'), i2osp(0x0020, 2));
const HPKE_SUITE = concat(te.encode('HPKE'), i2osp(0x0020, 2), i2osp(0x0001, 2), i2osp(0x0002, 2));

async function hmac(key, data) {
  // HMAC pads its key with zeros: an empty salt is the RFC 5869 default of HashLen zeros.
  const k = await subtle().importKey('raw', key.length ? key : new Uint8Array(32),
    { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', k, data));
}
const extract = (suite, salt, label, ikm) => hmac(salt, concat(V1, suite, te.encode(label), ikm));
async function expand(suite, prk, label, info, len) {
  // len ≤ 32: one HKDF-Expand block, T(1) = HMAC(prk, info || 0x01).
  const t = await hmac(prk, concat(i2osp(len, 2), V1, suite, te.encode(label), info, new Uint8Array([1])));
  return t.slice(0, len);
}

export async function hpkeOpen(inst, enc, ct, info) {
  const pkE = await subtle().importKey('raw', enc, { name: 'X25519' }, true, []);
  const dh = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: pkE }, inst.x.privateKey, 256));
  const eae = await extract(KEM_SUITE, EMPTY, 'eae_prk', dh);
  const shared = await expand(KEM_SUITE, eae, 'shared_secret', concat(enc, inst.xPub), 32);
  const pskIdHash = await extract(HPKE_SUITE, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = await extract(HPKE_SUITE, EMPTY, 'info_hash', info);
  const context = concat(new Uint8Array([0]), pskIdHash, infoHash);
  const secret = await extract(HPKE_SUITE, shared, 'secret', EMPTY);
  const key = await expand(HPKE_SUITE, secret, 'key', context, 32);
  const nonce = await expand(HPKE_SUITE, secret, 'base_nonce', context, 12);
  const aead = await subtle().importKey('raw', key, 'AES-GCM', false, ['decrypt']);
  return new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: nonce }, aead, ct));
}

/// Open a content key wrapped to this installation (docs/keys.md §3) as an AES-GCM key
/// usable only to decrypt.
export async function unwrapContentKey(inst, deviceId, keyIdHex, wrapped) {
  const info = labelled('eyrie-content-key/1', [te.encode(deviceId), te.encode(keyIdHex)]);
  const raw = await hpkeOpen(inst, unb64url(wrapped.enc, 32), unb64url(wrapped.ct, 48), info);
  return subtle().importKey('raw', raw, 'AES-GCM', false, ['decrypt']);
}

/// The keys of one device this installation can open, by key id, fetched as needed.
export class DeviceKeys {
  constructor(inst, deviceId) {
    this.inst = inst;
    this.deviceId = deviceId;
    this.keys = new Map();
  }

  async get(keyIdHex) {
    if (!this.keys.has(keyIdHex)) await this.refresh();
    const k = this.keys.get(keyIdHex);
    if (!k) throw new NoKeyError(keyIdHex);
    return k;
  }

  async refresh() {
    const { keys } = await api('GET', `/devices/${this.deviceId}/keys?viewer_key=${this.inst.id}`);
    for (const k of keys) {
      if (this.keys.has(k.key_id)) continue;
      if (k.wrapped) {
        try {
          this.keys.set(k.key_id, await unwrapContentKey(this.inst, this.deviceId, k.key_id, k.wrapped));
        } catch (_) { /* a wrap that does not open is not ours to use */ }
      } else if (k.key) {
        this.keys.set(k.key_id, await subtle().importKey('raw', unb64url(k.key, 32), 'AES-GCM', false, ['decrypt']));
      }
    }
  }
}

export class NoKeyError extends Error {
  constructor(keyIdHex) {
    super(`This browser holds no key for this recording (key ${keyIdHex}): it was made before the browser was admitted, or the browser is not admitted yet.`);
    this.name = 'NoKeyError';
  }
}
