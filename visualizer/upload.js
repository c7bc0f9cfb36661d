/* DanceMuse visualizer: dance to an uploaded song.
 *
 * The user picks an audio file (or drops one on the page); it goes to the server over WebSocket /ws/upload
 * (a JSON header, then the bytes in chunks of the size the server's "ready" names);
 * the server generates the dance offline and answers "dance" with download URLs. The
 * page then fetches the JSON poses and plays the song from a blob URL in an <audio>,
 * the dancer following audio.currentTime (interpolated between frames).
 */
(function () {
  'use strict';

  const STAGES = { upload: 'Uploading', queued: 'Waiting for another song', decode: 'Reading the song',
    generate: 'Dancing', write: 'Writing files', video: 'Rendering the video' };

  /** Poses from a dance JSON document, flexible about its layout -> {fps, poses, n, beats}. */
  function parseDance(doc, names) {
    const fps = Number(doc.fps) || 30;
    let rows = doc.poses || doc.frames || [];
    const jointNames = doc.joint_names || doc.joints || names || [];
    const n = rows.length;
    const poses = new Float32Array(n * 51);
    for (let i = 0; i < n; i++) {
      let r = rows[i];
      if (r && !Array.isArray(r)) r = r.joints !== undefined ? r.joints : r.pose !== undefined ? r.pose : r;
      if (Array.isArray(r) && r.length === 51) {
        for (let k = 0; k < 51; k++) poses[i * 51 + k] = +r[k];
      } else if (Array.isArray(r) && r.length === 17) {
        for (let j = 0; j < 17; j++) for (let k = 0; k < 3; k++) poses[i * 51 + j * 3 + k] = +r[j][k];
      } else if (r && typeof r === 'object') {
        for (let j = 0; j < 17; j++) {
          const v = r[jointNames[j]];
          if (!v) continue;
          const xyz = Array.isArray(v) ? v : [v.x, v.y, v.z];
          for (let k = 0; k < 3; k++) poses[i * 51 + j * 3 + k] = +xyz[k];
        }
      }
    }
    const beats = Array.isArray(doc.beats) ? doc.beats.map(Number) : [];
    return { fps, poses, n, beats };
  }

  class Uploader {
    /** root: the upload section; hooks: onDance(dance, audioEl), onStop(). */
    constructor(root, hooks) {
      this.root = root;
      this.hooks = hooks;
      this.q = (s) => root.querySelector(s);
      this.ws = null;
      this.dance = null;
      this.blobUrl = null;
      this.names = null;
      this.q('#upload-file').addEventListener('change', () => {
        const f = this.q('#upload-file').files[0];
        this.q('#upload-go').disabled = !f;
        this.q('#upload-file-name').textContent = f ? f.name + ' · ' + (f.size / 1048576).toFixed(1) + ' MiB' : 'no file chosen';
      });
      this.q('#upload-go').addEventListener('click', () => {
        const f = this.q('#upload-file').files[0];
        if (f) this.start(f);
      });
      this.q('#upload-live').addEventListener('click', () => this.stop());
      // drop an audio file anywhere on the page
      document.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dropping'); });
      document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) document.body.classList.remove('dropping'); });
      document.addEventListener('drop', (e) => {
        e.preventDefault();
        document.body.classList.remove('dropping');
        const f = e.dataTransfer && e.dataTransfer.files[0];
        if (!f) return;
        this.q('#upload-file-name').textContent = f.name + ' · ' + (f.size / 1048576).toFixed(1) + ' MiB';
        this.start(f);
      });
      this.audio = this.q('#upload-audio');
    }

    setStatus(text, kind) {
      const s = this.q('#upload-status');
      s.textContent = text;
      s.className = 'status ' + (kind || '');
    }

    setProgress(stage, done) {
      const bar = this.q('#upload-progress');
      bar.hidden = false;
      bar.value = Math.max(0, Math.min(1, done));
      this.setStatus((STAGES[stage] || stage) + ' … ' + Math.round(done * 100) + ' %', 'wait');
    }

    start(file) {
      if (this.ws) this.ws.close();
      this.stop();
      this.q('#upload-go').disabled = true;
      this.q('#upload-result').hidden = true;
      this.setProgress('upload', 0);
      const ws = new WebSocket(DM.net.wsUrl('/ws/upload'));
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      let finished = false;
      ws.onopen = () => ws.send(JSON.stringify({ type: 'upload', name: file.name, size: file.size }));
      ws.onmessage = async (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === 'ready') {
          this.sendBody(ws, file, msg.chunk || 65536);
        } else if (msg.type === 'progress') {
          this.setProgress(msg.stage, msg.done);
        } else if (msg.type === 'dance') {
          finished = true;
          await this.onDance(msg, file);
        } else if (msg.type === 'file' && msg.ext === 'mp4') {
          this.enableDownload('mp4', msg.url);
          this.q('#upload-progress').hidden = true;
          this.setStatus('✓ Video ready.', 'ok');
        } else if (msg.type === 'error') {
          if (msg.stage === 'video') { this.q('#dl-mp4').textContent = 'MP4 unavailable'; this.setStatus(msg.message, 'err'); }
          else { finished = true; this.fail(msg.message); }
        }
      };
      ws.onclose = (ev) => {
        if (this.ws === ws) this.ws = null;
        this.q('#upload-go').disabled = false;
        if (!finished) this.fail(ev.reason || 'the connection closed before the dance was ready');
      };
    }

    async sendBody(ws, file, chunk) {
      const buf = await file.arrayBuffer();
      this.song = new Blob([buf], { type: file.type || 'audio/wav' });  // plays even if the file goes away
      for (let off = 0; off < buf.byteLength; off += chunk) {
        while (ws.bufferedAmount > 8 * chunk + 4194304) await new Promise((r) => setTimeout(r, 10));
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send(buf.slice(off, Math.min(off + chunk, buf.byteLength)));
      }
    }

    fail(message) {
      this.q('#upload-progress').hidden = true;
      this.setStatus('✗ ' + message, 'err');
    }

    enableDownload(ext, url) {
      const a = this.q('#dl-' + ext);
      a.href = url + (DM.net.pageParams().get('token') ? '?token=' + encodeURIComponent(DM.net.pageParams().get('token')) : '');
      a.classList.remove('disabled');
      a.removeAttribute('aria-disabled');
      a.textContent = ext.toUpperCase();
    }

    async onDance(msg, file) {
      this.setProgress('write', 1);
      let doc;
      try {
        const res = await fetch(msg.downloads.json + (DM.net.pageParams().get('token') ? '?token=' + encodeURIComponent(DM.net.pageParams().get('token')) : ''));
        if (!res.ok) throw new Error((await res.text()).trim() || res.statusText);
        doc = await res.json();
      } catch (e) {
        this.fail('could not load the dance: ' + e.message);
        return;
      }
      const dance = parseDance(doc, this.names);
      dance.id = msg.id;
      dance.name = msg.name;
      this.dance = dance;
      if (this.blobUrl) URL.revokeObjectURL(this.blobUrl);
      this.blobUrl = URL.createObjectURL(this.song || file);
      this.audio.src = this.blobUrl;
      this.enableDownload('bvh', msg.downloads.bvh);
      this.enableDownload('json', msg.downloads.json);
      const mp4 = this.q('#dl-mp4');
      mp4.classList.add('disabled');
      mp4.setAttribute('aria-disabled', 'true');
      mp4.textContent = msg.video === false ? 'MP4 off' : 'MP4 …';
      if (msg.mp4_ready) this.enableDownload('mp4', msg.downloads.mp4);
      this.q('#upload-result').hidden = false;
      this.q('#upload-title').textContent = msg.name + ' · ' + dance.n + ' frames at ' + dance.fps + ' fps';
      this.q('#upload-progress').hidden = true;
      this.setStatus('✓ Dance ready. Press play.' + (msg.video === false ? '' : ' The video is rendering.'), 'ok');
      this.root.dataset.danceId = msg.id;
      this.hooks.onDance(dance, this.audio);
      this.audio.play().catch(() => { /* autoplay may be blocked: the user presses play */ });
    }

    stop() {
      if (this.audio) this.audio.pause();
      this.dance = null;
      this.hooks.onStop();
    }

    /** Pose at the audio's current time into out (Float32Array(51)); returns beat info or null. */
    poseAt(out) {
      const d = this.dance;
      if (!d || !d.n) return null;
      const t = this.audio.currentTime;
      const x = Math.max(0, Math.min(d.n - 1, t * d.fps));
      const i = Math.floor(x), k = Math.min(i + 1, d.n - 1), a = x - i;
      const P = d.poses;
      for (let j = 0; j < 51; j++) out[j] = P[i * 51 + j] * (1 - a) + P[k * 51 + j] * a;
      return { t, frame: i };
    }
  }

  window.DM = window.DM || {};
  window.DM.upload = { Uploader, parseDance };
})();
