/* DanceMuse visualizer: the page's main. Wires the connection (net.js), the stage
 * (render.js), the controls panel (controls.js) and the song upload (upload.js);
 * renders at the display rate, interpolating between the last two frames received,
 * independent of frame arrival.
 *
 * Keys: f full screen · p projection mode · m mirror view · t trails · h hide HUD ·
 * 1/2/3 front/side/top camera · l loop the last 8 counts / back to live · ←/→ step a count ·
 * [ ] slower / faster (rehearsal.js). Page parameters: ?token=… (passed on to /ws),
 * ?projection=1, ?trails=1, ?mirror=1, ?view=front|side|top, ?hud=0, ?panel=0.
 * State for tests and curious people: window.dancemuse.
 */
(function () {
  'use strict';

  const params = DM.net.pageParams();
  const $ = (s) => document.querySelector(s);
  const canvas = $('#stage');
  const renderer = new DM.render.Renderer(canvas);

  const S = window.dancemuse = {
    state: 'idle', hello: null, frames: 0, lastIndex: -1, drawn: 0, drawMs: 0, fps: 0, latency: 0, tempo: 0,
    beatInBar: 0, bar: 0, count8: 0, mode: 'live', renderer, conn: null, controls: null, upload: null,
  };

  // pose buffers, reused: previous target, current target, what is on screen
  const prev = new Float32Array(51), cur = new Float32Array(51), shown = new Float32Array(51);
  let have = false, curAt = 0, period = 1000 / 30, bpb = 4;
  // an ensemble (hello.dancers > 1): every dancer's joints, 51 floats each, same interpolation
  let prevD = null, curD = null, shownD = null;
  const arrivals = new Float64Array(128).fill(-1e9); let arrHead = 0;

  function onHello(hello) {
    S.hello = hello;
    S.dancers = Number(hello.dancers) || 1;
    const ens = (hello.model && hello.model.ensemble) || null;
    renderer.setEnsemble(S.dancers, ens && ens.colors);
    prevD = curD = shownD = null;
    period = 1000 / (Number(hello.fps) || 30);
    if (hello.skeleton && hello.skeleton.bones) renderer.setSkeleton(hello.skeleton.bones);
    const m = hello.model || {};
    $('#hud-model').textContent = m.name || 'model';
    $('#hud-provider').textContent = (m.provider || '?').replace('ExecutionProvider', '');
    S.controls.setHello(hello);
    if (S.upload) S.upload.names = hello.skeleton && hello.skeleton.joints;
  }

  function onFrame(f) {
    const now = performance.now();
    if (have) {
      // start from what is on screen now (even when no frame was drawn since the last one)
      const a = Math.min(1, Math.max(0, (now - curAt) / period));
      for (let i = 0; i < 51; i++) prev[i] += (cur[i] - prev[i]) * a;
    } else prev.set(f.joints);
    cur.set(f.joints);
    if (f.dancers && S.dancers > 1) {
      if (!curD || curD.length !== f.dancers.length) {
        prevD = new Float32Array(f.dancers); curD = new Float32Array(f.dancers.length); shownD = new Float32Array(f.dancers.length);
      } else {
        const a = Math.min(1, Math.max(0, (now - curAt) / period));
        for (let i = 0; i < curD.length; i++) prevD[i] += (curD[i] - prevD[i]) * a;
      }
      curD.set(f.dancers);
    }
    curAt = now;
    have = true;
    S.frames++;
    S.lastIndex = f.index;
    arrivals[arrHead] = now; arrHead = (arrHead + 1) % arrivals.length;
    S.latency = S.latency ? S.latency * 0.9 + f.latency_ms * 0.1 : f.latency_ms;
    S.tempo = f.tempo;
    if (f.beat_in_bar > bpb) bpb = f.beat_in_bar;
    if (f.beat && S.mode === 'live') {
      renderer.beat();
      setBeat(f.beat_in_bar, f.bar);
    }
    if (S.rehearsal) S.rehearsal.push(f, S.count8, now);
  }

  function setBeat(beatInBar, bar) {
    S.beatInBar = beatInBar; S.bar = bar;
    S.count8 = ((bar * bpb + Math.max(beatInBar, 1) - 1) % 8) + 1;
    const cells = document.querySelectorAll('#beats span');
    cells.forEach((c, i) => c.classList.toggle('on', i + 1 === S.count8));
    $('#beat-flash').classList.remove('go'); void $('#beat-flash').offsetWidth; $('#beat-flash').classList.add('go');
  }

  function onStatus(state, detail) {
    S.state = state;
    document.body.dataset.conn = state;
    $('#conn-text').textContent = state === 'live' ? 'live' : state + (detail ? ' · ' + detail : '');
  }

  // --- wiring -------------------------------------------------------------------
  const conn = new DM.net.Connection({
    onHello, onFrame, onStatus,
    onState: (c) => S.controls.setState(c),
    onReply: (msg, pending) => S.controls.onReply(msg, pending),
  });
  S.conn = conn;
  S.controls = new DM.controls.ControlsPanel($('#panel'), (name, value) => conn.sendControl(name, value));
  S.rehearsal = DM.rehearsal ? new DM.rehearsal.Rehearsal(document, () => S.hello && S.hello.fps) : null;
  S.upload = new DM.upload.Uploader($('#upload'), {
    onDance: () => { songBeat = -1; S.mode = 'song'; document.body.dataset.mode = 'song'; renderer.floorY = null; },
    onStop: () => { S.mode = 'live'; document.body.dataset.mode = 'live'; },
  });

  // --- HUD (text refreshed 4 times a second) --------------------------------------
  function refreshHud() {
    const now = performance.now();
    let n = 0;
    for (let i = 0; i < arrivals.length; i++) if (now - arrivals[i] <= 1000) n++;
    S.fps = n;
    const live = S.mode === 'live';
    $('#hud-fps').textContent = live ? String(n) : '—';
    $('#hud-latency').textContent = live && S.frames ? Math.round(S.latency) + ' ms' : '—';
    $('#hud-rtt').textContent = conn.rtt !== null ? conn.rtt.toFixed(1) + ' ms' : '—';
    $('#hud-tempo').textContent = S.tempo ? S.tempo.toFixed(1) : '—';
    $('#hud-mode').textContent = live ? 'live' : 'song';
  }
  setInterval(refreshHud, 250);

  // --- beat clock source (link / midi / tap / audio), the style strength fed and the energy's reach, from /status ---
  async function refreshClock() {
    try {
      const r = await fetch('/status', { cache: 'no-store' });
      const st = await r.json();
      const c = st.clock;
      if (c) $('#hud-clock').textContent = c.source + (c.source === 'link' ? ' · ' + c.peers + ' peer' + (c.peers === 1 ? '' : 's') : '');
      S.controls.showApplied(st.style_strength_applied);
      S.controls.showReach(st.energy_reach);
    } catch (e) { /* server gone or warming up: keep the last value */ }
  }
  setInterval(refreshClock, 2000);
  refreshClock();

  // --- song playback beats ----------------------------------------------------------
  let songBeat = -1;
  function songBeats(t) {
    const d = S.upload.dance;
    if (!d || !d.beats.length) return;
    let k = songBeat;
    while (k + 1 < d.beats.length && d.beats[k + 1] <= t) k++;
    if (k < songBeat || (k >= 0 && t < d.beats[k])) { k = -1; while (k + 1 < d.beats.length && d.beats[k + 1] <= t) k++; }
    if (k !== songBeat && k >= 0 && t - d.beats[k] < 0.1) { renderer.beat(); setBeat((k % 4) + 1, Math.floor(k / 4)); }
    songBeat = k;
  }

  // --- the part of the screen the UI leaves free for the dancer ---------------------------
  function layout() {
    const W = window.innerWidth, H = window.innerHeight;
    const panel = $('#panel'), bar = $('#viewbar');
    const visible = (e) => getComputedStyle(e).display !== 'none';
    const open = visible(panel);
    let rect = [0, 0, W, H];
    if (open) {
      const b = panel.getBoundingClientRect();
      if (b.left > W * 0.45) rect = [0, 0, b.left, H];
      else if (b.top > H * 0.3) {
        const top = visible(bar) ? Math.min(b.top, bar.getBoundingClientRect().top) : b.top;
        rect = [0, 0, W, top];
      }
    }
    const hud = $('#hud');
    if (visible(hud)) {
      const h = hud.getBoundingClientRect();
      if (h.right > rect[2] * 0.5 && h.bottom < rect[3] * 0.6) rect = [rect[0], h.bottom, rect[2], rect[3] - h.bottom];
    }
    // and the view bar, where it spans over half the stage's width (on a small screen it wraps to two
    // rows beside the panel and covered the dancer's feet), as long as half the stage's height is left
    if (visible(bar)) {
      const v = bar.getBoundingClientRect();
      if (v.top < rect[1] + rect[3] && v.width > rect[2] * 0.5 && v.top - rect[1] > rect[3] * 0.5) {
        rect = [rect[0], rect[1], rect[2], v.top - rect[1]];
      }
    }
    renderer.stageRect = rect;
  }
  window.addEventListener('resize', layout);
  // the HUD and the panel change size after the first layout (the hello fills in the model and its
  // styles): frame the dancer again when their height does, or it stays where the HUD now covers its
  // head. Heights only: the HUD's width follows its figures (an RTT of 9.5 or 49.6 ms), and a width
  // near the layout's threshold would make the framing jump back and forth.
  if (window.ResizeObserver) {
    const heights = new Map();
    const watch = new ResizeObserver((entries) => {
      let changed = false;
      for (const e of entries) {
        const h = Math.round(e.contentRect.height);
        if (heights.get(e.target) !== h) { heights.set(e.target, h); changed = true; }
      }
      if (changed) layout();
    });
    for (const id of ['#hud', '#panel', '#viewbar']) if ($(id)) watch.observe($(id));
  }
  S.layout = layout;

  // --- render loop ----------------------------------------------------------------------
  let lastT = performance.now();
  const songPose = new Float32Array(51), rehPose = new Float32Array(51);
  function loop(now) {
    const dt = Math.min(0.1, (now - lastT) / 1000);
    lastT = now;
    let pose = null;
    if (S.mode === 'song' && S.upload.dance) {
      if (S.upload.poseAt(songPose)) { pose = songPose; songBeats(S.upload.audio.currentTime); }
    } else if (have) {
      const a = Math.min(1, Math.max(0, (now - curAt) / period));
      for (let i = 0; i < 51; i++) shown[i] = prev[i] + (cur[i] - prev[i]) * a;
      pose = shown;
      if (curD) for (let i = 0; i < curD.length; i++) shownD[i] = prevD[i] + (curD[i] - prevD[i]) * a;
    }
    renderer.others = S.mode === 'live' && curD ? shownD : null;
    if (S.mode === 'live' && S.rehearsal && S.rehearsal.poseAt(now, rehPose)) { pose = rehPose; renderer.others = null; }
    const t0 = performance.now();
    renderer.draw(pose, dt);
    S.drawMs = S.drawMs ? S.drawMs * 0.95 + (performance.now() - t0) * 0.05 : performance.now() - t0;
    S.drawn++;
    requestAnimationFrame(loop);
  }
  requestAnimationFrame(loop);

  // --- view options, keys ------------------------------------------------------------------
  function setOption(name, on) {
    renderer.options[name] = on;
    document.body.classList.toggle(name, on);
    const b = document.querySelector('[data-toggle="' + name + '"]');
    if (b) b.classList.toggle('active', on);
  }
  function toggle(name) { setOption(name, !renderer.options[name]); }
  function toggleHud() { document.body.classList.toggle('no-hud'); layout(); }
  function fullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.documentElement.requestFullscreen().catch(() => {});
  }
  function view(name) {
    renderer.cam.preset(name);
    document.querySelectorAll('[data-view]').forEach((b) => b.classList.toggle('active', b.dataset.view === name));
  }
  S.toggle = toggle; S.view = view;

  document.addEventListener('keydown', (e) => {
    if (e.target && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) && e.target.type !== 'range' && e.target.type !== 'checkbox') return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.toLowerCase();
    if (k === 'f') fullscreen();
    else if (k === 'p') toggle('projection');
    else if (k === 'm') toggle('mirror');
    else if (k === 't') toggle('trails');
    else if (k === 'h') toggleHud();
    else if (k === '1') view('front');
    else if (k === '2') view('side');
    else if (k === '3') view('top');
    else if (k === 'escape' && renderer.options.projection) setOption('projection', false);
    else if (!(S.rehearsal && S.rehearsal.key(k, e.target))) return;
    e.preventDefault();
  });
  document.querySelectorAll('[data-toggle]').forEach((b) => b.addEventListener('click', () => toggle(b.dataset.toggle)));
  document.querySelectorAll('[data-view]').forEach((b) => b.addEventListener('click', () => view(b.dataset.view)));
  $('#btn-fullscreen').addEventListener('click', fullscreen);
  $('#btn-panel').addEventListener('click', () => { document.body.classList.toggle('panel-closed'); layout(); });

  // --- orbit and zoom: mouse, wheel, touch (one finger orbits, two pinch) ---------------
  const pointers = new Map();
  let pinch = 0;
  canvas.addEventListener('pointerdown', (e) => { canvas.setPointerCapture(e.pointerId); pointers.set(e.pointerId, [e.clientX, e.clientY]); pinch = 0; });
  canvas.addEventListener('pointermove', (e) => {
    const p = pointers.get(e.pointerId);
    if (!p) return;
    if (pointers.size === 1) renderer.cam.orbit(e.clientX - p[0], e.clientY - p[1]);
    p[0] = e.clientX; p[1] = e.clientY;
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const d = Math.hypot(a[0] - b[0], a[1] - b[1]);
      if (pinch) renderer.cam.zoom(pinch / d);
      pinch = d;
    }
  });
  const up = (e) => { pointers.delete(e.pointerId); pinch = 0; };
  canvas.addEventListener('pointerup', up);
  canvas.addEventListener('pointercancel', up);
  canvas.addEventListener('wheel', (e) => { e.preventDefault(); renderer.cam.zoom(Math.exp(e.deltaY * 0.001)); }, { passive: false });
  canvas.addEventListener('dblclick', () => view('front'));

  // --- page parameters ---------------------------------------------------------------------
  if (params.get('projection') === '1') setOption('projection', true);
  if (params.get('trails') === '1') setOption('trails', true);
  if (params.get('mirror') === '1') setOption('mirror', true);
  if (params.get('hud') === '0') toggleHud();
  if (params.get('panel') === '0') document.body.classList.add('panel-closed');
  view(params.get('view') || 'front');
  layout();
  conn.connect();
})();
