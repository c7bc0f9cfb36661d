/* DanceMuse visualizer: the stage renderer (Canvas 2D, our own perspective projection).
 *
 * Conventions of the pose (COCO-17): metres, y up, +z toward the audience, +x the
 * dancer's left, so the front camera sits on +z and shows the dancer's left on screen
 * right. Draws, back to front: background, floor grid, beat ring, shadow, trails,
 * the body (torso, limbs as thick glowing strokes sorted by depth, head).
 */
(function () {
  'use strict';

  const BONES_DEFAULT = [[5, 7], [7, 9], [6, 8], [8, 10], [11, 13], [13, 15], [12, 14], [14, 16],
    [5, 6], [11, 12], [5, 11], [6, 12]];
  const LEFT = new Set([1, 3, 5, 7, 9, 11, 13, 15]);
  const RIGHT = new Set([2, 4, 6, 8, 10, 12, 14, 16]);
  const HEAD = [0, 1, 2, 3, 4];
  const TRAIL_JOINTS = [9, 10, 15, 16, 0];
  const TRAIL_LEN = 24;
  const ANKLE_HEIGHT = 0.08;

  const COLORS = {
    left: [56, 225, 255],     // cyan
    right: [255, 79, 216],    // magenta
    torso: [255, 236, 205],   // warm white
  };

  const PRESETS = {
    front: { yaw: 0, pitch: 0.12 },
    side: { yaw: Math.PI / 2, pitch: 0.12 },
    top: { yaw: 0, pitch: 1.45 },
  };

  function rgba(c, a) { return 'rgba(' + c[0] + ',' + c[1] + ',' + c[2] + ',' + a + ')'; }
  function mix(c, d, t) { return [c[0] + (d[0] - c[0]) * t | 0, c[1] + (d[1] - c[1]) * t | 0, c[2] + (d[2] - c[2]) * t | 0]; }

  class Camera {
    constructor() {
      this.yaw = 0; this.pitch = 0.12; this.dist = 4.0; this.fov = 40 * Math.PI / 180;
      this.target = [0, 0.9, 0];
      this.goal = null; // animated preset
      this.pos = [0, 0, 0]; this.r = [1, 0, 0]; this.u = [0, 1, 0]; this.f = [0, 0, -1];
      this.focal = 1; this.cx = 0; this.cy = 0; this.mirror = false; this.w = 1;
    }

    preset(name) {
      const p = PRESETS[name];
      if (p) this.goal = { yaw: p.yaw, pitch: p.pitch };
    }

    orbit(dx, dy) {
      this.goal = null;
      this.yaw -= dx * 0.008;
      this.pitch = Math.max(-0.3, Math.min(1.45, this.pitch + dy * 0.006));
    }

    zoom(factor) { this.dist = Math.max(1.4, Math.min(12, this.dist * factor)); }

    /** Recompute the basis for a w x h canvas; the dancer is framed in rect [x, y, w, h]. */
    update(w, h, rect) {
      if (this.goal) {
        let dyaw = this.goal.yaw - this.yaw;
        dyaw = Math.atan2(Math.sin(dyaw), Math.cos(dyaw));
        this.yaw += dyaw * 0.15; this.pitch += (this.goal.pitch - this.pitch) * 0.15;
        if (Math.abs(dyaw) < 1e-3 && Math.abs(this.goal.pitch - this.pitch) < 1e-3) this.goal = null;
      }
      const cp = Math.cos(this.pitch), t = this.target;
      const p = [t[0] + this.dist * Math.sin(this.yaw) * cp, t[1] + this.dist * Math.sin(this.pitch),
        t[2] + this.dist * Math.cos(this.yaw) * cp];
      const f = norm([t[0] - p[0], t[1] - p[1], t[2] - p[2]]);
      const r = norm(cross(f, [0, 1, 0]));
      const u = cross(r, f);
      this.pos = p; this.f = f; this.r = r; this.u = u;
      const vr = rect || [0, 0, w, h];
      this.focal = (Math.min(vr[3], vr[2] * 1.15) / 2) / Math.tan(this.fov / 2);
      this.cx = vr[0] + vr[2] / 2; this.cy = vr[1] + vr[3] / 2; this.w = w;
    }

    /** Project (x, y, z) into out[0..2] = screen x, screen y, depth; false when behind. */
    project(x, y, z, out) {
      const dx = x - this.pos[0], dy = y - this.pos[1], dz = z - this.pos[2];
      const depth = dx * this.f[0] + dy * this.f[1] + dz * this.f[2];
      if (depth < 0.05) return false;
      const s = this.focal / depth;
      let sx = this.cx + (dx * this.r[0] + dy * this.r[1] + dz * this.r[2]) * s;
      if (this.mirror) sx = this.w - sx;
      out[0] = sx;
      out[1] = this.cy - (dx * this.u[0] + dy * this.u[1] + dz * this.u[2]) * s;
      out[2] = depth;
      return true;
    }
  }

  function cross(a, b) { return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]; }
  function norm(a) { const n = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / n, a[1] / n, a[2] / n]; }

  class Renderer {
    constructor(canvas) {
      this.canvas = canvas;
      this.ctx = canvas.getContext('2d');
      this.cam = new Camera();
      this.bones = BONES_DEFAULT;
      this.floorY = null;
      this.root = [0, 0.9, 0];
      this.scr = new Float32Array(17 * 3);   // projected joints
      this.ok = new Uint8Array(17);
      this.tmp = [0, 0, 0];
      this.trail = [];                        // ring of Float32Array(51)
      for (let i = 0; i < TRAIL_LEN; i++) this.trail.push(new Float32Array(51));
      this.trailHead = 0; this.trailCount = 0;
      this.order = BONES_DEFAULT.map((_, i) => i);
      this.depths = new Float32Array(32);
      this.pulse = 0;
      this.options = { projection: false, trails: false, mirror: false };
      this.stageRect = null;                  // CSS px [x, y, w, h] left free by the UI
      this.dpr = 1;
      this.dancers = 1;                       // an ensemble: others = all dancers' joints (51 each)
      this.others = null;
      this.dancerColors = [];
      this.figure = new Float32Array(51);
    }

    /** n dancers from the hello; colors: CSS '#rrggbb' per dancer (dancer 0 keeps its own look). */
    setEnsemble(n, colors) {
      this.dancers = Math.max(1, n | 0);
      this.dancerColors = (colors || []).map((c) => {
        const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(c || '');
        return m ? [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)] : [200, 200, 200];
      });
    }

    setSkeleton(bones) {
      if (Array.isArray(bones) && bones.length) {
        // the head is drawn as a sphere: skip the tiny nose/eye/ear bones
        this.bones = bones.filter((b) => !(HEAD.includes(b[0]) && HEAD.includes(b[1])));
        this.order = this.bones.map((_, i) => i);
      }
    }

    beat() { this.pulse = 1; }

    resize() {
      const dpr = Math.min(window.devicePixelRatio || 1, 2);
      const w = Math.round(this.canvas.clientWidth * dpr), h = Math.round(this.canvas.clientHeight * dpr);
      if (this.canvas.width !== w || this.canvas.height !== h) { this.canvas.width = w; this.canvas.height = h; }
      this.dpr = dpr;
    }

    /** Track the floor height and the root from the pose (slow follow, fast drop). */
    track(pose) {
      const low = Math.min(pose[15 * 3 + 1], pose[16 * 3 + 1]) - ANKLE_HEIGHT;
      if (this.floorY === null) this.floorY = low;
      else this.floorY += (low - this.floorY) * (low < this.floorY ? 0.3 : 0.01);
      const rx = 0.5 * (pose[33] + pose[36]), rz = 0.5 * (pose[35] + pose[38]);
      this.root[0] += (rx - this.root[0]) * 0.05;
      this.root[2] += (rz - this.root[2]) * 0.05;
      // frame on the floor (steady through jumps), but never lose a hip that strays
      const hipY = 0.5 * (pose[34] + pose[37]);
      this.root[1] = Math.max(hipY - 0.5, Math.min(hipY + 0.5, this.floorY + 0.95));
    }

    pushTrail(pose) {
      this.trail[this.trailHead].set(pose);
      this.trailHead = (this.trailHead + 1) % TRAIL_LEN;
      this.trailCount = Math.min(this.trailCount + 1, TRAIL_LEN);
    }

    /** Draw one frame. pose: Float32Array(51) or null; dt: seconds since the last draw. */
    draw(pose, dt) {
      this.resize();
      const ctx = this.ctx, W = this.canvas.width, H = this.canvas.height, o = this.options;
      const cam = this.cam;
      cam.mirror = o.mirror;
      const ens = this.others && this.dancers > 1 ? this.others : null;
      if (pose) this.track(pose);
      let spread = 0;
      if (ens) {  // frame the whole ensemble: its centre, and back off for its width
        let cx = 0, cz = 0, minx = 1e9, maxx = -1e9;
        for (let d = 0; d < this.dancers; d++) {
          const x = 0.5 * (ens[d * 51 + 33] + ens[d * 51 + 36]), z = 0.5 * (ens[d * 51 + 35] + ens[d * 51 + 38]);
          cx += x / this.dancers; cz += z / this.dancers; minx = Math.min(minx, x); maxx = Math.max(maxx, x);
        }
        this.root[0] = cx; this.root[2] = cz; spread = maxx - minx;
      }
      // follow the dancer smoothly; jump when it got far (a reset, a teleporting root)
      const follow = 1 - Math.exp(-dt * 6);
      const far = Math.hypot(this.root[0] - cam.target[0], this.root[1] - cam.target[1], this.root[2] - cam.target[2]) > 1.5;
      for (let i = 0; i < 3; i++) cam.target[i] += (this.root[i] - cam.target[i]) * (far ? 1 : follow);
      const baseDist = cam.dist;
      if (o.projection) cam.dist = baseDist * 0.75;
      if (spread > 0) cam.dist *= 1 + 0.4 * spread;
      const sr = this.stageRect, k = this.dpr;
      cam.update(W, H, sr && !o.projection ? [sr[0] * k, sr[1] * k, sr[2] * k, sr[3] * k] : null);
      cam.dist = baseDist;
      this.pulse = Math.max(0, this.pulse - dt * 2.6);

      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.globalCompositeOperation = 'source-over';
      ctx.globalAlpha = 1;
      if (o.projection) {
        ctx.fillStyle = '#000';
      } else {
        const g = ctx.createRadialGradient(W / 2, H * 0.45, 0, W / 2, H * 0.45, Math.max(W, H) * 0.75);
        g.addColorStop(0, '#1b1830'); g.addColorStop(0.55, '#0b0a16'); g.addColorStop(1, '#030308');
        ctx.fillStyle = g;
      }
      ctx.fillRect(0, 0, W, H);
      const floor = this.floorY === null ? 0 : this.floorY;
      this.drawFloor(floor, o.projection ? 0.16 : 0.32);
      if (this.pulse > 0) this.drawRing(floor);
      if (!pose) return;
      if (ens) { this.drawEnsemble(ens, floor); return; }
      this.drawShadow(pose, floor);
      if (o.trails) { this.pushTrail(pose); this.drawTrails(); } else this.trailCount = 0;
      this.drawBody(pose);
    }

    /** All dancers, far ones first; dancer 0 as usual, the others in their colours. */
    drawEnsemble(ens, floor) {
      const n = this.dancers, fig = this.figure, order = [];
      for (let d = 0; d < n; d++) order.push(d);
      const z = (d) => ens[d * 51 + 35] + ens[d * 51 + 38];
      const cam = this.cam;
      const depth = (d) => {  // distance from the camera along its view
        const x = 0.5 * (ens[d * 51 + 33] + ens[d * 51 + 36]) - cam.pos[0], zz = 0.5 * z(d) - cam.pos[2];
        return x * cam.f[0] + zz * cam.f[2];
      };
      order.sort((a, b) => depth(b) - depth(a));
      this.trailCount = 0;
      for (const d of order) {
        fig.set(ens.subarray(d * 51, d * 51 + 51));
        const rx = this.root[0], rz = this.root[2];  // each dancer's shadow under its own hips
        this.root[0] = 0.5 * (fig[33] + fig[36]); this.root[2] = 0.5 * (fig[35] + fig[38]);
        this.drawShadow(fig, floor);
        this.root[0] = rx; this.root[2] = rz;
        if (d === 0 || !this.dancerColors[d]) this.drawBody(fig);
        else this.drawTinted(fig, this.dancerColors[d]);
      }
    }

    /** A dancer drawn in one colour (bones, joints, head). */
    drawTinted(pose, col) {
      const saved = COLORS.left, savedR = COLORS.right, savedT = COLORS.torso;
      COLORS.left = mix(col, [255, 255, 255], 0.15); COLORS.right = mix(col, [0, 0, 0], 0.25); COLORS.torso = col;
      try { this.drawBody(pose); } finally { COLORS.left = saved; COLORS.right = savedR; COLORS.torso = savedT; }
    }

    drawFloor(floor, alpha) {
      // grid segments bucketed by fade level: one path and one stroke per level
      const ctx = this.ctx, cam = this.cam, p = this.tmp, q = [0, 0, 0];
      const cx = Math.round(this.root[0] * 2) / 2, cz = Math.round(this.root[2] * 2) / 2;
      const R = 4, step = 0.5, seg = 0.25, LEVELS = 6;
      ctx.lineWidth = Math.max(1, this.dpr);
      for (let level = 1; level <= LEVELS; level++) {
        const lo = (level - 1) / LEVELS, hi = level / LEVELS;
        ctx.beginPath();
        for (let axis = 0; axis < 2; axis++) {
          for (let k = -R; k <= R + 1e-6; k += step) {
            for (let s = -R; s < R - 1e-6; s += seg) {
              const x0 = axis ? cx + k : cx + s, z0 = axis ? cz + s : cz + k;
              const x1 = axis ? x0 : x0 + seg, z1 = axis ? z0 + seg : z0;
              const fade = 1 - Math.hypot((x0 + x1) / 2 - this.root[0], (z0 + z1) / 2 - this.root[2]) / R;
              if (fade <= lo || fade > hi) continue;
              if (!cam.project(x0, floor, z0, p) || !cam.project(x1, floor, z1, q)) continue;
              ctx.moveTo(p[0], p[1]); ctx.lineTo(q[0], q[1]);
            }
          }
        }
        const f = (lo + hi) / 2;
        ctx.strokeStyle = 'rgba(120,140,255,' + (alpha * f * f).toFixed(3) + ')';
        ctx.stroke();
      }
    }

    floorCircle(floor, radius, n) {
      const ctx = this.ctx, p = this.tmp;
      ctx.beginPath();
      let started = false;
      for (let i = 0; i <= n; i++) {
        const a = (i / n) * Math.PI * 2;
        if (!this.cam.project(this.root[0] + Math.cos(a) * radius, floor, this.root[2] + Math.sin(a) * radius, p)) continue;
        if (started) ctx.lineTo(p[0], p[1]); else { ctx.moveTo(p[0], p[1]); started = true; }
      }
      return started;
    }

    drawRing(floor) {
      const ctx = this.ctx, k = this.pulse;
      const radius = 0.35 + (1 - k) * 1.3;
      if (!this.floorCircle(floor, radius, 64)) return;
      ctx.strokeStyle = 'rgba(255,210,120,' + (0.75 * k).toFixed(3) + ')';
      ctx.lineWidth = (2 + 6 * k) * this.dpr;
      ctx.stroke();
    }

    drawShadow(pose, floor) {
      const ctx = this.ctx, cam = this.cam, p = this.tmp, q = [0, 0, 0];
      if (this.floorCircle(floor, 0.42, 40)) {
        ctx.fillStyle = 'rgba(0,0,0,0.5)';
        ctx.fill();
      }
      ctx.lineCap = 'round';
      ctx.strokeStyle = 'rgba(0,0,0,0.45)';
      for (const [a, b] of this.bones) {
        if (!cam.project(pose[a * 3], floor, pose[a * 3 + 2], p)) continue;
        if (!cam.project(pose[b * 3], floor, pose[b * 3 + 2], q)) continue;
        ctx.lineWidth = 0.09 * cam.focal / p[2];
        ctx.beginPath(); ctx.moveTo(p[0], p[1]); ctx.lineTo(q[0], q[1]); ctx.stroke();
      }
    }

    drawTrails() {
      const ctx = this.ctx, cam = this.cam, p = this.tmp;
      const n = this.trailCount;
      if (n < 2) return;
      ctx.globalCompositeOperation = 'lighter';
      ctx.lineCap = 'round';
      for (const j of TRAIL_JOINTS) {
        const col = LEFT.has(j) ? COLORS.left : RIGHT.has(j) ? COLORS.right : COLORS.torso;
        let prev = null;
        for (let k = 0; k < n; k++) {
          const idx = (this.trailHead - n + k + TRAIL_LEN) % TRAIL_LEN;
          const tr = this.trail[idx];
          if (!cam.project(tr[j * 3], tr[j * 3 + 1], tr[j * 3 + 2], p)) { prev = null; continue; }
          if (prev) {
            const age = k / n;
            ctx.strokeStyle = rgba(col, (0.5 * age * age).toFixed(3));
            ctx.lineWidth = (0.012 + 0.05 * age) * cam.focal / p[2];
            ctx.beginPath(); ctx.moveTo(prev[0], prev[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
          } else prev = [0, 0];
          prev[0] = p[0]; prev[1] = p[1];
        }
      }
      ctx.globalCompositeOperation = 'source-over';
    }

    drawBody(pose) {
      const ctx = this.ctx, cam = this.cam, s = this.scr, p = this.tmp;
      for (let j = 0; j < 17; j++) {
        this.ok[j] = cam.project(pose[j * 3], pose[j * 3 + 1], pose[j * 3 + 2], p) ? 1 : 0;
        s[j * 3] = p[0]; s[j * 3 + 1] = p[1]; s[j * 3 + 2] = p[2];
      }
      const glow = 1 + 0.6 * this.pulse;
      // torso plate
      if (this.ok[5] && this.ok[6] && this.ok[11] && this.ok[12]) {
        const g = ctx.createLinearGradient(s[5 * 3], s[5 * 3 + 1], s[11 * 3], s[11 * 3 + 1]);
        g.addColorStop(0, rgba(COLORS.left, 0.22)); g.addColorStop(1, rgba(COLORS.right, 0.22));
        ctx.fillStyle = g;
        ctx.beginPath();
        ctx.moveTo(s[15], s[16]); ctx.lineTo(s[18], s[19]); ctx.lineTo(s[36], s[37]); ctx.lineTo(s[33], s[34]);
        ctx.closePath(); ctx.fill();
      }
      // bones far to near
      const bones = this.bones, order = this.order, d = this.depths;
      for (let i = 0; i < bones.length; i++) d[i] = s[bones[i][0] * 3 + 2] + s[bones[i][1] * 3 + 2];
      order.sort((a, b) => d[b] - d[a]);
      ctx.lineCap = 'round';
      for (const i of order) {
        const [a, b] = bones[i];
        if (!this.ok[a] || !this.ok[b]) continue;
        const side = LEFT.has(a) && LEFT.has(b) ? COLORS.left : RIGHT.has(a) && RIGHT.has(b) ? COLORS.right : COLORS.torso;
        const isLeg = a >= 11 && b >= 13;
        const torso = side === COLORS.torso;
        const width = (isLeg ? 0.085 : torso ? 0.06 : 0.065) * cam.focal / (0.5 * (s[a * 3 + 2] + s[b * 3 + 2]));
        this.stroke(s[a * 3], s[a * 3 + 1], s[b * 3], s[b * 3 + 1], width, side, glow);
      }
      // joints
      ctx.globalCompositeOperation = 'source-over';
      for (const j of [7, 8, 9, 10, 13, 14, 15, 16]) {
        if (!this.ok[j]) continue;
        const r = (j === 9 || j === 10 ? 0.05 : 0.035) * cam.focal / s[j * 3 + 2];
        ctx.fillStyle = rgba(mix(LEFT.has(j) ? COLORS.left : COLORS.right, [255, 255, 255], 0.6), 0.95);
        ctx.beginPath(); ctx.arc(s[j * 3], s[j * 3 + 1], r, 0, Math.PI * 2); ctx.fill();
      }
      this.drawHead(pose, glow);
    }

    stroke(x0, y0, x1, y1, w, col, glow) {
      const ctx = this.ctx;
      ctx.globalCompositeOperation = 'lighter';
      ctx.strokeStyle = rgba(col, 0.10 * glow);
      ctx.lineWidth = w * 3.2;
      ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
      ctx.strokeStyle = rgba(col, 0.22 * glow);
      ctx.lineWidth = w * 1.9;
      ctx.stroke();
      ctx.globalCompositeOperation = 'source-over';
      ctx.strokeStyle = rgba(col, 1);
      ctx.lineWidth = w;
      ctx.stroke();
      ctx.strokeStyle = rgba(mix(col, [255, 255, 255], 0.75), 0.9);
      ctx.lineWidth = w * 0.32;
      ctx.stroke();
    }

    drawHead(pose, glow) {
      const ctx = this.ctx, cam = this.cam, p = this.tmp;
      let x = 0, y = 0, z = 0;
      for (const j of HEAD) { x += pose[j * 3]; y += pose[j * 3 + 1]; z += pose[j * 3 + 2]; }
      x /= 5; y /= 5; z /= 5;
      // neck: from mid-shoulders to the head centre
      const nx = 0.5 * (pose[15] + pose[18]), ny = 0.5 * (pose[16] + pose[19]), nz = 0.5 * (pose[17] + pose[20]);
      const q = [0, 0, 0];
      if (cam.project(nx, ny, nz, q) && cam.project(x, y - 0.06, z, p)) {
        this.stroke(q[0], q[1], p[0], p[1], 0.05 * cam.focal / p[2], COLORS.torso, glow);
      }
      if (!cam.project(x, y + 0.02, z, p)) return;
      const r = 0.115 * cam.focal / p[2];
      ctx.globalCompositeOperation = 'lighter';
      const g = ctx.createRadialGradient(p[0], p[1], r * 0.6, p[0], p[1], r * 2.2);
      g.addColorStop(0, rgba(COLORS.torso, 0.35 * glow)); g.addColorStop(1, rgba(COLORS.torso, 0));
      ctx.fillStyle = g;
      ctx.beginPath(); ctx.arc(p[0], p[1], r * 2.2, 0, Math.PI * 2); ctx.fill();
      ctx.globalCompositeOperation = 'source-over';
      const h = ctx.createRadialGradient(p[0] - r * 0.3, p[1] - r * 0.35, r * 0.1, p[0], p[1], r);
      h.addColorStop(0, '#ffffff'); h.addColorStop(1, rgba(COLORS.torso, 1));
      ctx.fillStyle = h;
      ctx.beginPath(); ctx.arc(p[0], p[1], r, 0, Math.PI * 2); ctx.fill();
      // face direction: a small dot at the nose
      if (cam.project(pose[0], pose[1], pose[2], q) && q[2] < p[2]) {
        ctx.fillStyle = 'rgba(40,30,70,0.55)';
        ctx.beginPath(); ctx.arc(q[0], q[1], r * 0.18, 0, Math.PI * 2); ctx.fill();
      }
    }
  }

  window.DM = window.DM || {};
  window.DM.render = { Renderer, Camera, PRESETS };
})();
