// The web viewer's entry point: hash routes, the header, and what happens on sign-in and
// sign-out. Pages: #/signin, #/cameras, #/camera/<id>, #/browser (docs/web-viewer.md).

import { session, signOut } from './api.js';
import { signInView, camerasView, browserView } from './views.js';
import { cameraView } from './camera.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let leave = null;
let rendering = 0;

async function route() {
  const run = ++rendering;
  if (leave) { leave(); leave = null; }
  const s = session();
  nav.hidden = !s;
  const hash = location.hash || '#/';
  for (const a of nav.querySelectorAll('a')) {
    if (hash.startsWith(a.getAttribute('href'))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!s) {
    document.title = 'Sign in · Eyrie';
    signInView(main, () => {
      if (location.hash === '#/cameras') route();
      else location.hash = '#/cameras'; // hashchange routes
    });
    return;
  }
  const cam = hash.match(/^#\/camera\/([0-9a-fA-F-]{36})$/);
  let done;
  if (cam) {
    document.title = 'Camera · Eyrie';
    done = await cameraView(main, s, cam[1]);
    document.title = `${main.querySelector('h1')?.textContent || 'Camera'} · Eyrie`;
  } else if (hash === '#/browser') {
    document.title = 'This browser · Eyrie';
    done = await browserView(main, s);
  } else {
    document.title = 'Cameras · Eyrie';
    if (hash !== '#/cameras') history.replaceState(null, '', '#/cameras');
    done = await camerasView(main, s);
  }
  if (run !== rendering) { done?.(); return; }
  leave = done;
}

window.addEventListener('hashchange', () => {
  route().then(() => main.querySelector('h1')?.focus({ preventScroll: false }));
});
window.addEventListener('eyrie-signed-out', () => route());
document.getElementById('signout').addEventListener('click', async () => {
  await signOut();
  if (location.hash === '#/signin') route();
  else location.hash = '#/signin';
});
route();
