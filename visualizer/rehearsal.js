/* DanceMuse visualizer: the rehearsal room.
 *
 * Keeps the last ~70 s of live frames (dancer 0) with their beats and counts. "Loop" takes
 * the last complete phrase (8 counts, or 4 / 8 bars) that ends on a count 1 and plays it
 * in sync with the live beat: the phrase's count 1 lands on the live count 1, one phrase
 * count per live beat (½ and ¼: one count per 2 / 4 live beats). "Step" freezes the loop
 * and moves count by count (buttons or the arrow keys). The count is shown large. "Save"
 * downloads the phrase as JSON in the format of `dancemuse generate -o x.json`; turn it
 * into BVH or MP4 with `dancemuse rehearse phrase.json -o phrase.bvh --video phrase.mp4`.
 * The pose shown depends only on the phrase position, so every loop repeats exactly.
 * State for tests: window.dancemuse.rehearsal.
 */
(function () {
  'use strict';

  const CAP = 4096;               // frames kept (68 s at 60 fps, 136 s at 30)
  const NAMES = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder',
    'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
    'right_knee', 'left_ankle', 'right_ankle'];

  class Rehearsal {
    constructor(root, fpsOf) {
      this.fpsOf = fpsOf;
      this.joints = new Float32Array(CAP * 51);
      this.beat = new Uint8Array(CAP);
      this.count = new Uint8Array(CAP);
      this.index = new Float64Array(CAP).fill(-1);
      this.n = 0;                   // frames pushed
      this.phrase = null;           // {poses, beatIdx, counts, frames}
      this.active = false;
      this.speed = 1;
      this.stepping = false;
      this.stepPos = 0;
      this.anchor = -1;             // live beat number where the phrase's count 1 plays
      this.liveBeats = 0;
      this.lastBeatAt = 0;
      this.period = 500;
      this.pos = 0;
      this.log = [];                // at each live beat while looping: {beat, loop, count, sum}
      this.tmp = new Float32Array(51);
      this.root = root;
      this.ui(root);
    }

    ui(root) {
      const sec = document.createElement('section');
      sec.id = 'rehearsal';
      sec.innerHTML = '<h2>Rehearsal</h2>' +
        '<div class="buttons">' +
        '<button class="btn" data-rh="8" title="loop the last 8 counts (l)">Loop 8</button>' +
        '<button class="btn" data-rh="16" title="loop the last 4 bars">4 bars</button>' +
        '<button class="btn" data-rh="32" title="loop the last 8 bars">8 bars</button>' +
        '<button class="btn" data-rh="stop" title="back to the live dancer (l)">Live</button></div>' +
        '<div class="buttons">' +
        '<button class="btn" data-speed="1">1×</button><button class="btn" data-speed="0.5">½</button>' +
        '<button class="btn" data-speed="0.25">¼</button>' +
        '<button class="btn" data-step="-1" title="previous count (←)">◀</button>' +
        '<button class="btn" data-step="1" title="next count (→)">▶</button>' +
        '<button class="btn" data-rh="play" title="play the loop again">Play</button>' +
        '<button class="btn" data-rh="save" title="download the phrase as JSON">Save</button></div>' +
        '<div id="rh-status" class="status" role="status" aria-live="polite">loop the last phrase to learn it</div>';
      const panel = root.querySelector('#panel');
      const footer = panel && panel.querySelector('footer');
      if (panel) panel.insertBefore(sec, footer || null);
      const big = document.createElement('div');
      big.id = 'rh-count';
      big.setAttribute('aria-live', 'off');
      big.style.cssText = 'position:fixed;left:4vw;bottom:12vh;font:700 24vh/1 system-ui,sans-serif;' +
        'color:rgba(255,214,120,0.9);text-shadow:0 0 4vh rgba(255,180,60,0.6);pointer-events:none;display:none;z-index:5';
      root.body.appendChild(big);
      this.big = big;
      this.status = sec.querySelector('#rh-status');
      sec.addEventListener('click', (e) => {
        const b = e.target.closest('button');
        if (!b) return;
        if (b.dataset.rh === 'stop') this.stop();
        else if (b.dataset.rh === 'save') this.save();
        else if (b.dataset.rh === 'play') { this.stepping = false; this.anchor = -1; }
        else if (b.dataset.rh) this.capture(Number(b.dataset.rh));
        else if (b.dataset.speed) this.setSpeed(Number(b.dataset.speed));
        else if (b.dataset.step) this.step(Number(b.dataset.step));
      });
    }

    say(text) { if (this.status) this.status.textContent = text; }

    /** Every live frame, after its beat was counted: count8 is the live count 1..8. */
    push(f, count8, now) {
      const k = this.n % CAP;
      this.joints.set(f.joints, k * 51);
      this.beat[k] = f.beat ? 1 : 0;
      this.count[k] = f.beat ? count8 : 0;
      this.index[k] = f.index;
      this.n++;
      if (!f.beat) return;
      if (this.liveBeats > 0 && now > this.lastBeatAt) {
        const dt = now - this.lastBeatAt;
        const want = f.tempo > 0 ? 60000 / f.tempo : dt;
        this.period = Math.max(150, Math.min(2000, 0.5 * want + 0.5 * dt));
      }
      this.liveBeats++;
      this.lastBeatAt = now;
      if (this.active && this.anchor < 0 && count8 === 1) this.anchor = this.liveBeats;
      if (this.active && !this.stepping && this.anchor > 0) {
        const p = this.positionAt(now);
        this.poseAtPos(p, this.tmp);
        let s = 0;
        for (let i = 0; i < 51; i++) s += this.tmp[i] * (i + 1);
        const n = this.phrase.counts;
        this.log.push({ beat: this.liveBeats, loop: Math.floor((this.liveBeats - this.anchor) * this.speed / n),
          pos: p, count: Math.floor(p) + 1, sum: s });
        if (this.log.length > 512) this.log.shift();
      }
    }

    /** Take the last complete phrase of `counts` beats that ends on a count 1. */
    capture(counts) {
      const have = Math.min(this.n, CAP);
      const beats = [];
      for (let j = this.n - 1; j >= this.n - have; j--) if (this.beat[j % CAP]) beats.push(j);
      let endAt = -1;
      for (let b = 0; b < beats.length; b++) if (this.count[beats[b] % CAP] === 1) { endAt = b; break; }
      if (endAt < 0 || endAt + counts >= beats.length) {
        this.say('not enough music yet: ' + counts + ' counts ending on a 1 are needed');
        return false;
      }
      const e = beats[endAt], s = beats[endAt + counts];
      const len = e - s;
      const poses = new Float32Array(len * 51);
      for (let j = 0; j < len; j++) poses.set(this.joints.subarray(((s + j) % CAP) * 51, ((s + j) % CAP) * 51 + 51), j * 51);
      const beatIdx = [];
      for (let b = endAt + counts; b > endAt; b--) beatIdx.push(beats[b] - s);
      beatIdx.push(len);
      this.phrase = { poses, beatIdx, counts, frames: len, startIndex: this.index[s % CAP] };
      this.active = true; this.stepping = false; this.stepPos = 0; this.anchor = -1; this.log = [];
      this.big.style.display = 'block';
      this.say('looping ' + counts + ' counts (' + len + ' frames); it starts on the next live 1');
      return true;
    }

    stop() {
      this.active = false; this.stepping = false; this.big.style.display = 'none';
      this.say('live');
    }

    setSpeed(s) {
      if (!(s > 0 && s <= 1)) return;
      this.speed = s; this.anchor = -1;  // re-anchor on the next live 1
      this.say('speed ' + (s === 1 ? '1×' : s === 0.5 ? '½' : '¼') + ': from the next live 1');
    }

    step(d) {
      if (!this.phrase) { this.say('loop a phrase first'); return; }
      if (!this.stepping) { this.stepping = true; this.stepPos = Math.floor(this.pos); }
      const n = this.phrase.counts;
      this.stepPos = ((this.stepPos + d) % n + n) % n;
      this.say('count ' + (this.stepPos + 1) + ' of ' + n + ' (Play goes on)');
    }

    /** Phrase position (counts, 0..n) at time `now` (ms, performance.now()). */
    positionAt(now) {
      const ph = this.phrase;
      if (!ph) return 0;
      if (this.stepping) return this.stepPos;
      if (this.anchor < 0) return 0;   // wait on count 1 for the live 1
      const frac = Math.min(0.999, Math.max(0, (now - this.lastBeatAt) / this.period));
      const beats = this.liveBeats - this.anchor + frac;
      const p = beats * this.speed;
      return p - Math.floor(p / ph.counts) * ph.counts;
    }

    poseAtPos(p, out) {
      const ph = this.phrase, bi = ph.beatIdx;
      const k = Math.min(ph.counts - 1, Math.floor(p)), u = p - k;
      const fi = bi[k] + u * (bi[k + 1] - bi[k]);
      const i0 = Math.min(ph.frames - 1, Math.floor(fi)), t = fi - i0, i1 = Math.min(ph.frames - 1, i0 + 1);
      const a = ph.poses, o0 = i0 * 51, o1 = i1 * 51;
      for (let i = 0; i < 51; i++) out[i] = a[o0 + i] + (a[o1 + i] - a[o0 + i]) * t;
      return out;
    }

    /** The pose to draw now, or false when not rehearsing. */
    poseAt(now, out) {
      if (!this.active || !this.phrase) return false;
      this.pos = this.positionAt(now);
      this.poseAtPos(this.pos, out);
      const c = String(Math.floor(this.pos) % 8 + 1);
      if (this.big.textContent !== c) this.big.textContent = c;
      return true;
    }

    /** The phrase as a dance JSON document (live/dance_io.py's .json format). */
    toJson() {
      const ph = this.phrase, fps = this.fpsOf() || 30;
      const frames = [];
      const isBeat = new Set(ph.beatIdx.slice(0, -1));
      for (let i = 0; i < ph.frames; i++) {
        const joints = {};
        for (let j = 0; j < 17; j++) {
          const o = i * 51 + j * 3;
          joints[NAMES[j]] = [+ph.poses[o].toFixed(5), +ph.poses[o + 1].toFixed(5), +ph.poses[o + 2].toFixed(5)];
        }
        frames.push({ i, t: +(i / fps).toFixed(5), beat: isBeat.has(i), joints });
      }
      return { fps, joint_names: NAMES, units: 'metres, y up',
        beats: ph.beatIdx.slice(0, -1).map((b) => +(b / fps).toFixed(5)),
        meta: { source: 'rehearsal', counts: ph.counts, live_start_frame: ph.startIndex }, frames };
    }

    save() {
      if (!this.phrase) { this.say('loop a phrase first'); return null; }
      const blob = new Blob([JSON.stringify(this.toJson())], { type: 'application/json' });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = 'phrase.json';
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      this.say('saved phrase.json; BVH/MP4: dancemuse rehearse phrase.json -o phrase.bvh --video phrase.mp4');
      return blob;
    }

    /** Keys: l loop / live, ←/→ step (not while a slider has the focus), [ ] slower /
     * faster. Returns true when used. */
    key(k, target) {
      const onInput = !!(target && target.tagName === 'INPUT');
      if (k === 'l') { if (this.active) this.stop(); else this.capture(8); return true; }
      if (k === 'arrowleft' && this.active && !onInput) { this.step(-1); return true; }
      if (k === 'arrowright' && this.active && !onInput) { this.step(1); return true; }
      if (k === '[') { this.setSpeed(this.speed === 1 ? 0.5 : 0.25); return true; }
      if (k === ']') { this.setSpeed(this.speed === 0.25 ? 0.5 : 1); return true; }
      return false;
    }
  }

  window.DM = window.DM || {};
  window.DM.rehearsal = { Rehearsal };
})();
