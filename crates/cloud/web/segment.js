// Opening sealed segments and snapshots (docs/segment-format.md, versions 1 and 2) with
// WebCrypto AES-256-GCM. A segment is handed out only whole: any chunk that fails, a
// missing final chunk or a bad header refuses the whole thing (a player must not act on
// partial data).

import { hex } from './keys.js';

const MAGIC = 'EYRIESEG';
const HEADER = 32;
const TAG = 16;

export class SegmentError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SegmentError';
  }
}

export function isSealed(bytes) {
  return bytes.length >= 8 && String.fromCharCode(...bytes.slice(0, 8)) === MAGIC;
}

/// The header's fields; throws SegmentError on anything a reader refuses.
export function header(bytes) {
  if (bytes.length < HEADER) throw new SegmentError('truncated: shorter than its header');
  if (!isSealed(bytes)) throw new SegmentError('not an Eyrie segment (wrong magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER);
  const version = view.getUint16(8);
  const chunkSize = view.getUint32(10);
  if (version !== 1 && version !== 2) throw new SegmentError(`unknown segment version ${version}`);
  if (chunkSize < 16 || chunkSize > 16777216) throw new SegmentError(`chunk size ${chunkSize} out of range`);
  if (bytes[29] || bytes[30] || bytes[31]) throw new SegmentError('reserved header bytes are not zero');
  return { version, chunkSize, keyId: hex(bytes.slice(14, 22)), noncePrefix: bytes.slice(22, 29) };
}

/// The whole plaintext of `bytes` under `key` (an AES-GCM CryptoKey), or SegmentError.
export async function open(bytes, key) {
  const h = header(bytes);
  const aad = bytes.slice(0, HEADER);
  const record = h.chunkSize + TAG;
  const body = bytes.length - HEADER;
  const full = Math.floor(body / record);
  const rest = body - full * record;
  // The final chunk is strictly shorter than a full record; a body that ends right after
  // a full record has lost its final chunk.
  if (rest < TAG) throw new SegmentError('truncated: the final chunk is missing');
  const out = new Uint8Array(full * h.chunkSize + rest - TAG);
  const nonce = new Uint8Array(12);
  nonce.set(h.noncePrefix, 0);
  const view = new DataView(nonce.buffer);
  for (let i = 0; i <= full; i++) {
    const final = i === full;
    view.setUint32(7, i);
    nonce[11] = final ? 1 : 0;
    const start = HEADER + i * record;
    const sealed = bytes.subarray(start, final ? bytes.length : start + record);
    let plain;
    try {
      plain = new Uint8Array(await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: nonce.slice(), additionalData: aad, tagLength: 128 }, key, sealed));
    } catch (_) {
      throw new SegmentError(`chunk ${i} does not authenticate`);
    }
    out.set(plain, i * h.chunkSize);
  }
  return out;
}
