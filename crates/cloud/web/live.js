// Eyrie live view in the browser: one camera into one <video>, through the cloud's WHEP
// endpoint (docs/api.md §14). Plain ES module, no build step.
//
//   openLive(video, {deviceId, token, stream, talk, onStage, onError})
//     POST  /api/v1/devices/{id}/whep   (SDP offer → 201 answer, Location, Link: ice-server)
//     PATCH Location                    (our ICE candidates, trickled as they come)
//     DELETE Location                   (close, or the page goes away)
//
// Media goes straight between the browser and the camera (the cloud only relays the
// offer and the answer, and checks that the answer is the camera's). Stages follow the
// app's: 'establishing' (offer sent), 'retrieving' (ICE + DTLS connected), 'playing'
// (first decoded frame). Talk: with `talk`, the audio transceiver is sendrecv with the
// microphone, muted until setTalking(true) — the camera plays what arrives.

/** Parse `Link: <url>; rel="ice-server"; username="…"; credential="…"` headers. */
function iceServersFrom(linkHeader) {
  if (!linkHeader) return [];
  const out = [];
  // fetch() joins repeated headers with ", "; a URL in <> never contains '>'.
  const re = /<([^>]+)>([^<]*)/g;
  let m;
  while ((m = re.exec(linkHeader)) !== null) {
    const params = {};
    for (const p of m[2].split(';')) {
      const kv = p.trim().match(/^([a-zA-Z-]+)="?([^"]*)"?,?$/);
      if (kv) params[kv[1].toLowerCase()] = kv[2];
    }
    if (params.rel !== 'ice-server') continue;
    const server = { urls: m[1] };
    if (params.username) server.username = params.username;
    if (params.credential) server.credential = params.credential;
    out.push(server);
  }
  return out;
}

/** Our gathered candidates as an application/trickle-ice-sdpfrag body (RFC 8840). */
function sdpFragment(pc, candidates, end) {
  const local = pc.localDescription ? pc.localDescription.sdp : '';
  const ufrag = (local.match(/a=ice-ufrag:(.*)\r?\n/) || [])[1];
  const pwd = (local.match(/a=ice-pwd:(.*)\r?\n/) || [])[1];
  let body = '';
  if (ufrag) body += `a=ice-ufrag:${ufrag}\r\n`;
  if (pwd) body += `a=ice-pwd:${pwd}\r\n`;
  const byMid = new Map();
  for (const c of candidates) {
    const mid = c.sdpMid ?? String(c.sdpMLineIndex ?? 0);
    if (!byMid.has(mid)) byMid.set(mid, []);
    byMid.get(mid).push(c.candidate);
  }
  if (end && byMid.size === 0) byMid.set('0', []);
  for (const [mid, lines] of byMid) {
    body += `m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:${mid}\r\n`;
    for (const l of lines) body += `a=${l}\r\n`;
    if (end) body += 'a=end-of-candidates\r\n';
  }
  return body;
}

async function errorText(resp) {
  try {
    const body = await resp.json();
    if (body && body.message) return body.message;
  } catch (_) { /* not JSON */ }
  return resp.statusText || `HTTP ${resp.status}`;
}

/**
 * Open a live session.
 * @returns {Promise<{close: () => void, setStream: (s: 'hd'|'sd') => Promise<void>,
 *   setMuted: (b: boolean) => void, setTalking: (b: boolean) => Promise<void>}>}
 */
export async function openLive(video, {
  deviceId, token, stream = 'hd', talk = false,
  onStage = (_stage) => {}, onError = (_err) => {}, base = '',
} = {}) {
  let session = null; // the running attempt
  let talking = false;
  let wantTalk = talk;

  async function start(streamName) {
    const s = { pc: null, location: null, mic: null, closed: false, pending: [], ended: false };
    session = s;
    const fail = (err) => {
      if (s.closed || session !== s) return;
      onError(err instanceof Error ? err : new Error(String(err)));
    };
    onStage('establishing');
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    s.pc = pc;
    const vt = pc.addTransceiver('video', { direction: 'recvonly' });
    // The camera sends H.264; offering only it keeps the offer small and the choice plain.
    if (vt.setCodecPreferences && window.RTCRtpReceiver?.getCapabilities) {
      const caps = RTCRtpReceiver.getCapabilities('video');
      const h264 = caps ? caps.codecs.filter((c) => /h264/i.test(c.mimeType)) : [];
      if (h264.length) vt.setCodecPreferences(h264);
    }
    if (wantTalk) {
      try {
        s.mic = await navigator.mediaDevices.getUserMedia({ audio: true });
        const track = s.mic.getAudioTracks()[0];
        track.enabled = talking;
        pc.addTransceiver(track, { direction: 'sendrecv', streams: [s.mic] });
      } catch (e) {
        fail(new Error(`microphone: ${e.message || e}`));
        pc.addTransceiver('audio', { direction: 'recvonly' });
      }
    } else {
      pc.addTransceiver('audio', { direction: 'recvonly' });
    }
    const remote = new MediaStream();
    pc.ontrack = (ev) => {
      remote.addTrack(ev.track);
      if (video.srcObject !== remote) video.srcObject = remote;
      const p = video.play();
      if (p && p.catch) p.catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (session !== s) return;
      if (pc.connectionState === 'connected') onStage('retrieving');
      if (pc.connectionState === 'failed') fail(new Error('the connection to the camera failed'));
    };
    const firstFrame = () => { if (session === s && !s.closed) onStage('playing'); };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(firstFrame);
    else video.addEventListener('playing', firstFrame, { once: true });

    const flush = async () => {
      if (!s.location || s.closed || (s.pending.length === 0 && !s.ended)) return;
      const batch = s.pending.splice(0);
      const body = sdpFragment(pc, batch, s.ended);
      try {
        await fetch(new URL(s.location, base || location.href), {
          method: 'PATCH',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/trickle-ice-sdpfrag' },
          body,
        });
      } catch (_) { /* a lost candidate: ICE finds the way with the others */ }
    };
    pc.onicecandidate = (ev) => {
      if (ev.candidate && ev.candidate.candidate) s.pending.push(ev.candidate);
      else s.ended = true;
      flush();
    };

    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    let resp;
    try {
      resp = await fetch(`${base}/api/v1/devices/${encodeURIComponent(deviceId)}/whep?stream=${streamName}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/sdp' },
        body: pc.localDescription.sdp,
      });
    } catch (e) {
      fail(new Error(`the cloud cannot be reached: ${e.message || e}`));
      return;
    }
    if (resp.status !== 201) {
      const err = new Error(await errorText(resp));
      err.status = resp.status;
      err.retryAfter = Number(resp.headers.get('Retry-After')) || null;
      fail(err);
      pc.close();
      return;
    }
    s.location = resp.headers.get('Location');
    const servers = iceServersFrom(resp.headers.get('Link'));
    const answer = await resp.text();
    if (s.closed) { remove(s); return; }
    if (servers.length) {
      try { pc.setConfiguration({ ...pc.getConfiguration(), iceServers: servers }); } catch (_) {}
    }
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    } catch (e) {
      fail(new Error(`the camera's answer is not usable: ${e.message || e}`));
      return;
    }
    flush();
  }

  function remove(s, keepalive = false) {
    s.closed = true;
    if (s.location) {
      fetch(new URL(s.location, base || location.href), {
        method: 'DELETE', headers: { Authorization: `Bearer ${token}` }, keepalive,
      }).catch(() => {});
      s.location = null;
    }
    if (s.mic) s.mic.getTracks().forEach((t) => t.stop());
    if (s.pc) s.pc.close();
  }

  const onHide = () => { if (session) remove(session, true); };
  window.addEventListener('pagehide', onHide);

  await start(stream);

  return {
    close() {
      window.removeEventListener('pagehide', onHide);
      if (session) remove(session);
      session = null;
      video.srcObject = null;
    },
    async setStream(s) {
      if (s !== 'hd' && s !== 'sd') throw new Error("stream is 'hd' or 'sd'");
      if (session) remove(session);
      stream = s;
      await start(s);
    },
    setMuted(b) {
      video.muted = !!b;
    },
    async setTalking(b) {
      talking = !!b;
      if (talking && !wantTalk) {
        // No microphone in this session: open one that has it.
        wantTalk = true;
        if (session) remove(session);
        await start(stream);
        return;
      }
      const track = session && session.mic && session.mic.getAudioTracks()[0];
      if (track) track.enabled = talking;
    },
  };
}
