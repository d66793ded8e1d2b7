// One camera: live view through live.js (WHEP), a snapshot on request, and the
// recordings of the last 24 hours, decrypted here and played through Media Source
// Extensions.
//
// Playback design: segments are MPEG-TS (docs/segment-format.md), which Chromium's MSE
// takes as `video/mp2t`. The player downloads one segment at a time, opens it whole
// (a segment that fails anywhere is refused, never half-played), appends it to one
// SourceBuffer in `sequence` mode (segments follow each other even across a camera
// restart, whose timestamps start again), and keeps at most about a minute buffered
// ahead of the playhead.

import { api, download, session } from './api.js';
import { h, announce, clock, when, onlineBadge, admission, admissionBanner, keyring, snapshotImage, latestSnapshot } from './views.js';
import { header, open, SegmentError } from './segment.js';

const STAGES = {
  establishing: 'Establishing encrypted channel',
  retrieving: 'Retrieving video stream',
  playing: 'Playing',
};
const DAY = 86400000;
const TS = 'video/mp2t; codecs="avc1.42E01F"';

const appended = (sb) => new Promise((resolve, reject) => {
  sb.addEventListener('updateend', resolve, { once: true });
  sb.addEventListener('error', () => reject(new Error('the browser could not decode this recording')), { once: true });
});

class Player {
  constructor(video, message, deviceId, inst, fresh, onSegment) {
    Object.assign(this, { video, message, deviceId, inst, fresh, onSegment });
    this.run = 0;
  }

  stop() {
    this.run++;
    this.video.hidden = true; // the screen says what to do instead of a spinner
    if (this.video.src) {
      this.video.pause();
      URL.revokeObjectURL(this.video.src);
      this.video.removeAttribute('src');
      this.video.load();
    }
  }

  fail(text) {
    this.message.textContent = text;
    this.message.hidden = false;
    announce(text);
  }

  /// Play `recs` (oldest first) from index `from` on.
  async play(recs, from) {
    this.stop();
    this.onSegment(null);
    const run = this.run;
    this.message.hidden = true;
    this.message.textContent = '';
    if (!window.MediaSource || !MediaSource.isTypeSupported(TS)) {
      this.fail('This browser cannot play MPEG-TS recordings (Media Source Extensions with video/mp2t). Chromium-based browsers can.');
      return;
    }
    const ms = new MediaSource();
    this.video.src = URL.createObjectURL(ms);
    this.video.hidden = false;
    await new Promise((r) => ms.addEventListener('sourceopen', r, { once: true }));
    const sb = ms.addSourceBuffer(TS);
    sb.mode = 'sequence';
    let started = false;
    for (let i = from; i < recs.length; i++) {
      if (run !== this.run) return;
      let rec = recs[i];
      let plain;
      try {
        if (rec.download.expires_at * 1000 < Date.now() + 20000) rec = (await this.fresh()).get(rec.id) || rec;
        const bytes = await download(rec.download);
        const key = await keyring(this.inst, this.deviceId).get(header(bytes).keyId);
        plain = await open(bytes, key);
      } catch (e) {
        if (run !== this.run) return;
        const at = clock(rec.start_ms);
        this.fail(e instanceof SegmentError
          ? `The recording from ${at} failed its integrity check and was not played: it was altered or damaged (${e.message}).`
          : `The recording from ${at} cannot be played: ${e.message}`);
        if (started) {
          if (ms.readyState === 'open' && !sb.updating) ms.endOfStream();
        } else {
          this.stop(); // nothing of it was shown: leave the player empty, not waiting
          this.onSegment(null);
        }
        return;
      }
      // Keep about a minute ahead of the playhead.
      while (run === this.run && sb.buffered.length
             && sb.buffered.end(sb.buffered.length - 1) - this.video.currentTime > 60) {
        await new Promise((r) => setTimeout(r, 1000));
      }
      if (run !== this.run) return;
      try {
        const done = appended(sb);
        sb.appendBuffer(plain);
        await done;
      } catch (e) {
        this.fail(`The recording from ${clock(rec.start_ms)} cannot be played: ${e.message}`);
        return;
      }
      this.onSegment(rec);
      if (!started) {
        started = true;
        this.video.play().catch(() => { /* autoplay refused: the controls are there */ });
      }
    }
    if (run === this.run && ms.readyState === 'open') ms.endOfStream();
  }
}

export async function cameraView(main, s, deviceId) {
  let device;
  try {
    device = await api('GET', `/devices/${deviceId}`);
  } catch (e) {
    main.replaceChildren(h('h1', { tabindex: '-1' }, 'Camera not found'),
      h('p', { role: 'alert' }, e.status === 404 ? 'There is no such camera in this account.' : e.message),
      h('p', {}, h('a', { href: '#/cameras' }, 'Back to the cameras')));
    return () => {};
  }
  const mainCh = device.channels.find((c) => c.kind === 'main').id;
  const cleanups = [];

  // ---- live ----
  const video = h('video', { id: 'live', autoplay: true, playsinline: true, muted: true, 'aria-label': `Live view of ${device.name}` });
  video.muted = true;
  const stage = h('p', { class: 'stage', id: 'stage', role: 'status' }, 'Starting live view…');
  const hd = h('button', { type: 'button', 'aria-pressed': 'true', id: 'hd' }, 'HD');
  const sd = h('button', { type: 'button', 'aria-pressed': 'false', id: 'sd' }, 'SD');
  const mute = h('button', { type: 'button', 'aria-pressed': 'true', id: 'mute' }, 'Sound off');
  const talk = h('button', { type: 'button', 'aria-pressed': 'false', id: 'talk', class: 'talk' }, 'Hold to talk');
  const snapBtn = h('button', { type: 'button', id: 'snapshot' }, 'Take snapshot');
  const liveButtons = [hd, sd, mute, talk];
  let live = null;
  let talkOpen = false;
  let holding = false;
  let quality = 'hd';

  const start = async (withTalk) => {
    if (live) { live.close(); live = null; }
    let mod;
    try {
      mod = await import('./live.js');
    } catch (_) {
      stage.textContent = 'Live view is not available from this server.';
      liveButtons.forEach((b) => { b.disabled = true; });
      return;
    }
    talkOpen = withTalk;
    stage.hidden = false;
    try {
      live = await mod.openLive(video, {
        deviceId, token: session().token, stream: quality, talk: withTalk,
        onStage: (st) => {
          stage.textContent = STAGES[st] || st;
          stage.dataset.stage = st;
          stage.hidden = st === 'playing';
          if (st === 'playing') {
            live?.setMuted(mute.getAttribute('aria-pressed') === 'true');
            if (holding) live?.setTalking(true);
          }
        },
        onError: (err) => {
          stage.hidden = false;
          stage.dataset.stage = 'error';
          stage.textContent = err?.message || String(err);
        },
      });
    } catch (e) {
      stage.hidden = false;
      stage.dataset.stage = 'error';
      stage.textContent = e?.message || String(e);
    }
  };
  const setQuality = (q) => {
    quality = q;
    hd.setAttribute('aria-pressed', String(q === 'hd'));
    sd.setAttribute('aria-pressed', String(q === 'sd'));
    live?.setStream(q);
  };
  hd.addEventListener('click', () => setQuality('hd'));
  sd.addEventListener('click', () => setQuality('sd'));
  mute.addEventListener('click', () => {
    const muted = mute.getAttribute('aria-pressed') !== 'true';
    mute.setAttribute('aria-pressed', String(muted));
    mute.textContent = muted ? 'Sound off' : 'Sound on';
    video.muted = muted;
    live?.setMuted(muted);
  });
  const press = (on) => {
    if (holding === on) return;
    holding = on;
    talk.setAttribute('aria-pressed', String(on));
    talk.textContent = on ? 'Talking… release to stop' : 'Hold to talk';
    if (on && !talkOpen) start(true); // the microphone is asked for only when needed
    else live?.setTalking(on);
  };
  talk.addEventListener('pointerdown', (e) => { talk.setPointerCapture?.(e.pointerId); press(true); });
  ['pointerup', 'pointercancel', 'lostpointercapture', 'blur'].forEach((t) => talk.addEventListener(t, () => press(false)));
  talk.addEventListener('keydown', (e) => {
    if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) { e.preventDefault(); press(true); }
  });
  talk.addEventListener('keyup', (e) => { if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); press(false); } });
  talk.addEventListener('click', (e) => e.preventDefault());
  cleanups.push(() => { live?.close(); live = null; });

  // ---- snapshot ----
  const snapFig = h('figure', { class: 'snapshot', id: 'snapshot-figure', hidden: true });
  const snapMsg = h('p', { class: 'muted', id: 'snapshot-status', role: 'status' });
  let inst = null;
  const showSnapshot = async (snap) => {
    const url = await snapshotImage(inst, deviceId, snap);
    snapFig.replaceChildren(
      h('img', { src: url, alt: `Snapshot from ${device.name}, ${when(snap.taken_at_ms)}`, 'data-snapshot': snap.id }),
      h('figcaption', {}, `Snapshot, ${when(snap.taken_at_ms)}`));
    snapFig.hidden = false;
  };
  snapBtn.addEventListener('click', async () => {
    snapBtn.disabled = true;
    snapMsg.textContent = 'Asking the camera for a picture…';
    try {
      const before = await latestSnapshot(mainCh);
      const { requested_at_ms: asked } = await api('POST', `/devices/${deviceId}/snapshot-request`);
      const until = Date.now() + 60000;
      let snap = null;
      while (!snap && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 1000));
        // The camera takes its first keyframe after the ask; one whose clock runs a little
        // behind the cloud's may date it slightly before: any new picture of the last
        // few seconds is the answer.
        const latest = await latestSnapshot(mainCh, asked - 10000);
        if (latest && latest.id !== before?.id) snap = latest;
      }
      if (!snap) throw new Error('The camera did not send a picture within a minute (it may be in privacy mode, or busy uploading).');
      if (!inst) throw new Error('The picture arrived, but this browser cannot open it yet (see “This browser”).');
      await showSnapshot(snap);
      snapMsg.textContent = 'Snapshot taken.';
    } catch (e) {
      snapMsg.textContent = e.status === 409 ? 'The camera is offline: it cannot take a snapshot now.' : e.message;
    } finally {
      snapBtn.disabled = false;
    }
  });

  // ---- recordings ----
  const playback = h('video', { id: 'playback', controls: true, playsinline: true, muted: true, hidden: true, 'aria-label': 'Recording' });
  playback.muted = true;
  const playMsg = h('p', { class: 'error', id: 'playback-error', role: 'alert', hidden: true });
  const recList = h('ol', { class: 'recordings', id: 'recordings', 'aria-busy': 'true' });
  let recs = [];
  const fresh = async () => {
    const end = Date.now();
    const r = await api('GET', `/channels/${mainCh}/recordings?start_ms=${end - DAY}&end_ms=${end}`);
    recs = r.recordings;
    return new Map(recs.map((x) => [x.id, x]));
  };
  const nowPlaying = h('p', { class: 'muted', id: 'now-playing' });
  const player = new Player(playback, playMsg, deviceId, null, fresh, (rec) => {
    recList.querySelectorAll('[aria-current]').forEach((b) => b.removeAttribute('aria-current'));
    if (!rec) {
      nowPlaying.textContent = '';
      return;
    }
    recList.querySelector(`[data-recording="${rec.id}"]`)?.setAttribute('aria-current', 'true');
    nowPlaying.textContent = `Playing ${clock(rec.start_ms)} – ${clock(rec.end_ms)}`;
  });
  cleanups.push(() => player.stop());

  const renderRecordings = () => {
    recList.setAttribute('aria-busy', 'false');
    if (!recs.length) {
      recList.replaceChildren(h('li', { class: 'empty' }, 'No recordings in the last 24 hours.'));
      return;
    }
    const shown = recs.slice(-300).reverse();
    recList.replaceChildren(...shown.map((r) => h('li', {},
      h('button', {
        type: 'button', class: 'rec', 'data-recording': r.id,
        onclick: () => { const i = recs.findIndex((x) => x.id === r.id); player.play(recs, i); playback.focus(); },
      }, `${clock(r.start_ms)} – ${clock(r.end_ms)}`, r.event ? h('span', { class: 'tag' }, 'event') : null))));
  };

  main.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/cameras' }, '← Cameras')),
    h('div', { class: 'title-row' }, h('h1', { tabindex: '-1' }, device.name), onlineBadge(device)),
    h('div', { id: 'admission-slot' }),
    h('div', { class: 'camera-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'live-title' },
        h('h2', { id: 'live-title' }, 'Live'),
        h('div', { class: 'screen' }, video, stage),
        h('div', { class: 'controls' },
          h('div', { role: 'group', 'aria-label': 'Quality', class: 'seg' }, hd, sd),
          mute, talk, snapBtn),
        snapMsg, snapFig),
      h('section', { class: 'card', 'aria-labelledby': 'rec-title' },
        h('h2', { id: 'rec-title' }, 'Recordings, last 24 hours'),
        h('div', { class: 'screen' }, h('p', { class: 'idle' }, 'Choose a recording below to play it.'), playback),
        playMsg, nowPlaying, recList)));

  start(false);
  try {
    const a = await admission(s);
    inst = a.inst;
    player.inst = inst;
    const banner = admissionBanner(a);
    if (banner) main.querySelector('#admission-slot').replaceChildren(banner);
  } catch (e) {
    main.querySelector('#admission-slot').replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
  }
  try {
    await fresh();
    renderRecordings();
  } catch (e) {
    recList.replaceChildren(h('li', { class: 'error', role: 'alert' }, e.message));
  }
  return () => cleanups.forEach((f) => f());
}
