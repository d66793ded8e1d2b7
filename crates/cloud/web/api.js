// The REST API of the cloud that served this page (docs/api.md), with the session token
// kept in this browser's localStorage, and presigned object downloads.

const TOKEN = 'eyrie.token';
const USER = 'eyrie.user';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export function session() {
  const token = localStorage.getItem(TOKEN);
  const user = JSON.parse(localStorage.getItem(USER) || 'null');
  return token && user ? { token, user } : null;
}

function forget() {
  localStorage.removeItem(TOKEN);
  localStorage.removeItem(USER);
}

/// One API call; the JSON answer (null for an empty one). Throws ApiError with the
/// server's message. A 401 forgets the session and sends the app back to sign-in.
export async function api(method, path, body) {
  const s = session();
  const headers = {};
  if (s) headers.authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(`/api/v1${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The cloud cannot be reached. Check the connection and try again.');
  }
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!resp.ok) {
    if (resp.status === 401 && s) {
      forget();
      window.dispatchEvent(new Event('eyrie-signed-out'));
    }
    throw new ApiError(resp.status, json?.code, json?.message || resp.statusText);
  }
  return json;
}

export async function signIn(username, password) {
  const r = await api('POST', '/login', { username, password });
  localStorage.setItem(TOKEN, r.token);
  localStorage.setItem(USER, JSON.stringify(r.user));
  return r.user;
}

export async function signOut() {
  try { await api('POST', '/logout'); } catch (_) { /* the token is forgotten anyway */ }
  forget();
}

/// The bytes behind a presigned GET (docs/api.md "Presigned URLs"): no Authorization.
export async function download(presigned) {
  let resp;
  try {
    resp = await fetch(presigned.url, { method: 'GET', credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, 'network', 'The object store cannot be reached.');
  }
  if (!resp.ok) throw new ApiError(resp.status, 'store', `The object store answered ${resp.status}.`);
  return new Uint8Array(await resp.arrayBuffer());
}
