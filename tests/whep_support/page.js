// Runs in a page of the cloud's origin (WebDriver execute/async). Opens a camera with
// the cloud's own live.js into a <video>, records the stages and errors, and reads the
// pixel clock (crates/rtc/src/pixel_clock.rs) off every displayed frame through a canvas.
// arguments: deviceId, token, talk, stream, callback.
const [deviceId, token, talk, stream, done] = arguments;
(async () => {
  const r = (window.__eyrie = { stages: [], errors: [], clocks: [], opened_at: Date.now() });
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  document.body.appendChild(video);
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });

  // 64 cells across the top H/18 rows: white, black, 48 time bits, 8 check bits.
  function decode() {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return null;
    const strip = Math.max(4, Math.floor(h / 18));
    if (canvas.width !== w || canvas.height !== strip) { canvas.width = w; canvas.height = strip; }
    ctx.drawImage(video, 0, 0, w, h, 0, 0, w, h);
    const rows = ctx.getImageData(0, Math.floor(strip / 4), w, Math.max(1, Math.floor(strip / 2))).data;
    const rowCount = Math.max(1, Math.floor(strip / 2));
    const cell = (i) => {
      const x0 = Math.floor(((i + 0.25) * w) / 64), x1 = Math.max(x0 + 1, Math.floor(((i + 0.75) * w) / 64));
      let sum = 0, n = 0;
      for (let y = 0; y < rowCount; y++) for (let x = x0; x < x1; x++) {
        const o = (y * w + x) * 4;
        sum += 0.299 * rows[o] + 0.587 * rows[o + 1] + 0.114 * rows[o + 2];
        n++;
      }
      return sum / n;
    };
    const white = cell(0), black = cell(1);
    if (white - black < 60) return null;
    const mid = (white + black) / 2;
    let t = 0;
    for (let i = 0; i < 48; i++) t = t * 2 + (cell(2 + i) > mid ? 1 : 0);
    let check = 0;
    for (let i = 0; i < 8; i++) check = check * 2 + (cell(50 + i) > mid ? 1 : 0);
    let x = 0x5a, v = t;
    const bytes = [];
    for (let i = 0; i < 6; i++) { bytes.unshift(v % 256); v = Math.floor(v / 256); }
    for (const b of bytes) x ^= b;
    return x === check ? t : null;
  }
  const onFrame = (_now, meta) => {
    const t = decode();
    if (t !== null) {
      const shown = performance.timeOrigin + (meta.expectedDisplayTime || performance.now());
      r.clocks.push([t, shown, video.videoWidth, video.videoHeight, Date.now()]);
      if (r.first_ms === undefined && r.t0 !== undefined) r.first_ms = performance.now() - r.t0;
      if (r.clocks.length > 2000) r.clocks.splice(0, 1000);
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);

  const { openLive } = await import('/web/live.js');
  const t0 = (r.t0 = performance.now());
  r.live = await openLive(video, {
    deviceId, token, talk, stream,
    onStage: (s) => r.stages.push([s, performance.now() - t0]),
    onError: (e) => r.errors.push(`${e.status || ''} ${e.message || e}`),
  });
  return 'ok';
})().then(done, (e) => done(`error: ${e && e.stack ? e.stack : e}`));
