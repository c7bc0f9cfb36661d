/* DanceMuse visualizer: the WebSocket connection to /ws.
 *
 * Asks for the binary frame format (59 little-endian float32 per frame, in the order of
 * the hello's binary_layout), decodes frames into one reused object, sends control
 * messages with ids and matches the server's ack/error replies, pings for the round
 * trip, and reconnects by itself with exponential backoff (0.5 s .. 8 s, jittered).
 */
(function () {
  'use strict';

  const DEFAULT_LAYOUT = ['index', 't', 'latency_ms', 'tempo', 'beat', 'beat_in_bar', 'bar',
    'confidence', 'joints*51'];

  function pageParams() {
    return new URLSearchParams(window.location.search);
  }

  /** Base ws:// or wss:// URL of the server that served this page (or ?server=host:port). */
  function wsBase() {
    const params = pageParams();
    const host = params.get('server') || window.location.host;
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    return scheme + '://' + host;
  }

  /** URL of a WebSocket endpoint with the page's ?token= passed on. */
  function wsUrl(path, extra) {
    const q = new URLSearchParams(extra || {});
    const token = pageParams().get('token');
    if (token) q.set('token', token);
    const qs = q.toString();
    return wsBase() + path + (qs ? '?' + qs : '');
  }

  /** Decoder of binary frames according to a binary_layout list. */
  class FrameDecoder {
    constructor(layout) {
      this.setLayout(layout || DEFAULT_LAYOUT);
      this.frame = {
        index: 0, t: 0, latency_ms: 0, tempo: 0, beat: false, beat_in_bar: 0, bar: 0,
        confidence: 0, joints: new Float32Array(51),
      };
    }

    setLayout(layout) {
      this.offsets = {};
      this.sizes = {};
      let k = 0;
      for (const name of layout) {
        const m = /^(\w+)\*(\d+)$/.exec(name);
        if (m) { this.offsets[m[1]] = k; this.sizes[m[1]] = Number(m[2]); k += Number(m[2]); } else { this.offsets[name] = k; k += 1; }
      }
      this.count = k;
    }

    /** An ensemble's joints (all dancers, dancer-major, 51 floats each) into f.dancers. */
    dancerBuf(n) {
      const f = this.frame;
      if (!f.dancers || f.dancers.length !== n) f.dancers = new Float32Array(n);
      return f.dancers;
    }

    /** Decode an ArrayBuffer; returns the reused frame object or null if malformed. */
    decodeBinary(buf) {
      if (buf.byteLength < this.count * 4) return null;
      const dv = new DataView(buf);
      const o = this.offsets;
      const f = this.frame;
      const get = (name, dflt) => (name in o ? dv.getFloat32(o[name] * 4, true) : dflt);
      f.index = Math.round(get('index', 0));
      f.t = get('t', 0);
      f.latency_ms = get('latency_ms', 0);
      f.tempo = get('tempo', 0);
      f.beat = get('beat', 0) > 0.5;
      f.beat_in_bar = Math.round(get('beat_in_bar', 0));
      f.bar = Math.round(get('bar', 0));
      f.confidence = get('confidence', 0);
      const j0 = o.joints || 0;
      for (let i = 0; i < 51; i++) f.joints[i] = dv.getFloat32((j0 + i) * 4, true);
      if ('dancers' in o) {
        const d = this.dancerBuf(this.sizes.dancers), d0 = o.dancers;
        for (let i = 0; i < d.length; i++) d[i] = dv.getFloat32((d0 + i) * 4, true);
      } else f.dancers = null;
      return f;
    }

    /** Copy a JSON frame message into the reused frame object. */
    decodeJson(msg) {
      const f = this.frame;
      f.index = msg.i | 0; f.t = +msg.t || 0; f.latency_ms = +msg.latency_ms || 0;
      f.tempo = +msg.tempo || 0; f.beat = !!msg.beat; f.beat_in_bar = msg.beat_in_bar | 0;
      f.bar = msg.bar | 0; f.confidence = +msg.confidence || 0;
      const j = msg.joints || [];
      for (let i = 0; i < 51; i++) f.joints[i] = +j[i] || 0;
      if (Array.isArray(msg.dancers)) {
        const d = this.dancerBuf(msg.dancers.length);
        for (let i = 0; i < d.length; i++) d[i] = +msg.dancers[i] || 0;
      } else f.dancers = null;
      return f;
    }
  }

  /**
   * The live connection. handlers: onHello(hello), onFrame(frame), onState(controls),
   * onReply(reply, pending), onStatus(state, detail).
   */
  class Connection {
    constructor(handlers) {
      this.h = handlers;
      this.ws = null;
      this.decoder = new FrameDecoder();
      this.state = 'idle';
      this.backoff = 500;
      this.nextId = 1;
      this.pending = new Map();
      this.rtt = null;
      this.pingSent = 0;
      this.retryTimer = null;
      this.pingTimer = null;
      this.closedByUser = false;
    }

    connect() {
      this.closedByUser = false;
      clearTimeout(this.retryTimer);
      const url = wsUrl('/ws', { format: 'binary' });
      this.setStatus('connecting', url);
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        this.scheduleRetry(String(e));
        return;
      }
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      ws.onmessage = (ev) => this.onMessage(ev);
      ws.onclose = (ev) => {
        clearInterval(this.pingTimer);
        if (this.ws !== ws) return;
        this.ws = null;
        for (const [id, p] of this.pending) {
          this.h.onReply && this.h.onReply({ type: 'error', id, message: 'connection lost' }, p);
        }
        this.pending.clear();
        if (!this.closedByUser) {
          const why = ev.reason || (ws.gotHello ? 'connection lost (' + ev.code + ')'
            : 'cannot connect: server down, or a missing or wrong ?token=');
          this.scheduleRetry(why);
        }
      };
      ws.onerror = () => { /* onclose follows and retries */ };
    }

    close() {
      this.closedByUser = true;
      clearTimeout(this.retryTimer);
      if (this.ws) this.ws.close();
      this.setStatus('closed', '');
    }

    scheduleRetry(why) {
      const delay = Math.min(this.backoff, 8000) * (0.8 + 0.4 * Math.random());
      this.backoff = Math.min(this.backoff * 2, 8000);
      this.setStatus('reconnecting', why + ' — retry in ' + (delay / 1000).toFixed(1) + ' s');
      this.retryTimer = setTimeout(() => this.connect(), delay);
    }

    setStatus(state, detail) {
      this.state = state;
      this.h.onStatus && this.h.onStatus(state, detail);
    }

    onMessage(ev) {
      if (typeof ev.data !== 'string') {
        const f = this.decoder.decodeBinary(ev.data);
        if (f) this.h.onFrame(f);
        return;
      }
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      switch (msg.type) {
        case 'hello':
          this.backoff = 500;
          ev.target.gotHello = true;
          if (Array.isArray(msg.binary_layout)) this.decoder.setLayout(msg.binary_layout);
          this.setStatus('live', '');
          this.startPing();
          this.h.onHello && this.h.onHello(msg);
          break;
        case 'frame':
          this.h.onFrame(this.decoder.decodeJson(msg));
          break;
        case 'state':
          this.h.onState && this.h.onState(msg.controls || {});
          break;
        case 'ack':
        case 'error': {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          this.h.onReply && this.h.onReply(msg, p);
          break;
        }
        case 'pong':
          if (this.pingSent) this.rtt = performance.now() - this.pingSent;
          this.pingSent = 0;
          break;
        default:
          break;
      }
    }

    startPing() {
      clearInterval(this.pingTimer);
      const ping = () => {
        if (this.ws && this.ws.readyState === WebSocket.OPEN && !this.pingSent) {
          this.pingSent = performance.now();
          this.ws.send('{"type":"ping"}');
        }
      };
      ping();
      this.pingTimer = setInterval(ping, 3000);
    }

    /** Send a control; returns its id, or null when not connected. */
    sendControl(name, value) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return null;
      const id = this.nextId++;
      this.pending.set(id, { name, value, sent: performance.now() });
      this.ws.send(JSON.stringify({ type: 'control', id, name, value: value === undefined ? null : value }));
      return id;
    }
  }

  window.DM = window.DM || {};
  window.DM.net = { Connection, FrameDecoder, wsUrl, pageParams };
})();
