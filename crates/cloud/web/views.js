// The pages that are not a single camera: sign-in, the camera list with each camera's
// latest picture, and "This browser" (the installation's fingerprint and admission).

import { api, download, signIn, ApiError } from './api.js';
import { installation, keySet, requestAdmission, DeviceKeys } from './keys.js';
import { isSealed, header, open } from './segment.js';

/// A DOM element: h('a', {href: '#'}, 'text', child…). `on*` attributes are listeners.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function announce(text) {
  const s = document.getElementById('status');
  s.textContent = '';
  setTimeout(() => { s.textContent = text; }, 50);
}

export const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
export const when = (ms) => {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? clock(ms) : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
};

export function onlineBadge(device) {
  const text = device.online ? 'Online'
    : device.last_seen_ms ? `Offline · last seen ${when(device.last_seen_ms)}` : 'Offline';
  return h('span', { class: `badge ${device.online ? 'on' : 'off'}`, 'data-online': String(device.online) },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
}

// ---- sign in ----

export function signInView(main, onDone) {
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error' });
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', {
    class: 'card signin', 'aria-labelledby': 'signin-title',
    onsubmit: async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      button.disabled = true;
      try {
        await signIn(user.value.trim(), pass.value);
        onDone();
      } catch (e) {
        error.textContent = e.status === 401 ? 'Wrong user name or password.'
          : e.status === 429 ? `Too many attempts. ${e.message}` : e.message;
        pass.select();
      } finally {
        button.disabled = false;
      }
    },
  },
  h('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in to Eyrie'),
  h('label', { for: 'username' }, 'User name'), user,
  h('label', { for: 'password' }, 'Password'), pass,
  error, button);
  main.replaceChildren(form);
  user.focus();
}

// ---- this browser's installation ----

/// Where this browser stands: 'admitted', 'waiting' (asked), 'no-keyset' (the account has
/// no key set yet: an app must make it first), or an Error.
export async function admission(s) {
  const inst = await installation(s.user.id);
  const set = await keySet(s.user.id);
  if (!set) return { inst, state: 'no-keyset' };
  if (set.keys.some((k) => k.id === inst.id)) return { inst, state: 'admitted', set };
  const { installations } = await api('GET', '/installations');
  if (!installations.some((i) => i.public.x25519 === inst.public.x25519)) await requestAdmission(inst);
  return { inst, state: 'waiting', set };
}

function admissionText(a) {
  switch (a.state) {
    case 'admitted': return 'This browser is admitted: it can open the recordings and pictures made since.';
    case 'no-keyset': return 'Recordings of this account are not set up yet. Set up the Eyrie app first; then admit this browser from it.';
    default: return 'This browser cannot open recordings yet. In an Eyrie app that is already set up, open the installation requests and admit the one that shows this number:';
  }
}

export function admissionBanner(a) {
  if (a.state === 'admitted') return null;
  return h('section', { class: 'banner', 'aria-labelledby': 'admit-title', id: 'admission' },
    h('h2', { id: 'admit-title' }, 'Recordings are locked in this browser'),
    h('p', {}, admissionText(a)),
    a.state === 'waiting' ? h('p', { class: 'fp', 'aria-label': `Fingerprint ${a.inst.fingerprint}` }, a.inst.fingerprint) : null,
    h('p', {}, h('a', { href: '#/browser' }, 'About this browser\u2019s key')));
}

export async function browserView(main, s) {
  const box = h('div', { class: 'stack' }, h('p', {}, 'Checking…'));
  main.replaceChildren(h('h1', { tabindex: '-1' }, 'This browser'), box);
  let timer = null;
  const render = async () => {
    let a;
    try { a = await admission(s); } catch (e) {
      box.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
      return;
    }
    box.replaceChildren(
      h('section', { class: 'card', 'aria-labelledby': 'fp-title' },
        h('h2', { id: 'fp-title' }, 'Fingerprint'),
        h('p', { class: 'fp', id: 'fingerprint', 'aria-label': `Fingerprint ${a.inst.fingerprint}` }, a.inst.fingerprint),
        h('p', { class: 'muted' }, `Key id ${a.inst.id}. The private keys never leave this browser: the browser made them and keeps them, not readable by any script, in this site's storage. Clearing the site's data removes them; this browser then has to be admitted again.`)),
      h('section', { class: 'card', 'aria-labelledby': 'state-title' },
        h('h2', { id: 'state-title' }, a.state === 'admitted' ? 'Admitted' : 'Not admitted yet'),
        h('p', { id: 'admission-state', 'data-state': a.state }, admissionText(a))));
    if (a.state === 'admitted') {
      clearInterval(timer);
      timer = null;
    }
  };
  await render();
  timer = setInterval(render, 4000);
  return () => clearInterval(timer);
}

// ---- cameras ----

const keyrings = new Map();
/// The DeviceKeys of `deviceId` for this installation (kept while the page lives).
export function keyring(inst, deviceId) {
  const k = `${inst.id}/${deviceId}`;
  if (!keyrings.has(k)) keyrings.set(k, new DeviceKeys(inst, deviceId));
  return keyrings.get(k);
}

/// A blob: URL of a snapshot's picture (opened when sealed), or an Error.
export async function snapshotImage(inst, deviceId, snap) {
  let bytes = await download(snap.download);
  if (isSealed(bytes)) {
    const key = await keyring(inst, deviceId).get(header(bytes).keyId);
    bytes = await open(bytes, key);
  }
  const type = bytes[0] === 0x89 ? 'image/png' : 'image/jpeg';
  return URL.createObjectURL(new Blob([bytes], { type }));
}

/// The newest complete snapshot of a channel in the last week, or null.
export async function latestSnapshot(channelId, sinceMs = Date.now() - 7 * 86400000) {
  const { snapshots } = await api('GET', `/channels/${channelId}/snapshots?start_ms=${Math.max(0, sinceMs)}&end_ms=${Date.now() + 60000}`);
  return snapshots[0] || null;
}

const mainChannel = (d) => d.channels.find((c) => c.kind === 'main')?.id;

async function thumbnail(inst, device, figure) {
  try {
    const snap = await latestSnapshot(mainChannel(device));
    if (!snap) {
      figure.replaceChildren(h('div', { class: 'placeholder' }, 'No picture yet'));
      return;
    }
    const url = await snapshotImage(inst, device.id, snap);
    figure.replaceChildren(h('img', {
      src: url, class: 'thumb', alt: `Latest picture from ${device.name}, ${when(snap.taken_at_ms)}`,
      'data-snapshot': snap.id,
    }));
  } catch (e) {
    figure.replaceChildren(h('div', { class: 'placeholder', title: e.message }, 'Picture locked'));
  }
}

export async function camerasView(main, s) {
  const list = h('ul', { class: 'cameras', id: 'cameras', 'aria-busy': 'true' });
  const bannerSlot = h('div');
  main.replaceChildren(h('h1', { tabindex: '-1' }, 'Cameras'), bannerSlot, list);
  let a = null;
  try {
    a = await admission(s);
    const banner = admissionBanner(a);
    if (banner) bannerSlot.replaceChildren(banner);
  } catch (e) {
    bannerSlot.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
  }
  const render = async (first) => {
    let devices;
    try {
      ({ devices } = await api('GET', '/devices'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      list.replaceChildren(h('li', { class: 'error', role: 'alert' }, e.message));
      return;
    }
    if (!devices.length) {
      list.replaceChildren(h('li', { class: 'empty' }, 'No cameras yet. Add one from the Eyrie app.'));
    }
    for (const d of devices) {
      let item = list.querySelector(`[data-device="${d.id}"]`);
      const badge = onlineBadge(d);
      if (item) {
        item.querySelector('.badge').replaceWith(badge);
        continue;
      }
      const figure = h('div', { class: 'thumb-box' }, h('div', { class: 'placeholder' }, 'Loading picture…'));
      item = h('li', { 'data-device': d.id },
        h('a', { class: 'camera card', href: `#/camera/${d.id}` },
          figure,
          h('span', { class: 'name' }, d.name),
          badge));
      list.append(item);
      if (first && a) thumbnail(a.inst, d, figure);
    }
    list.setAttribute('aria-busy', 'false');
  };
  await render(true);
  const timer = setInterval(() => render(false), 15000);
  return () => clearInterval(timer);
}
