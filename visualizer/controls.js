/* DanceMuse visualizer: the controls panel.
 *
 * Built from the hello: one slider per style of the model, energy, variation, style strength, smoothing, groove, dynamics, novelty,
 * the feel (auto, half time, the music's beat, double time), mirror, hold, travel (root follow), reset and tap tempo. Every change sends a control message (sliders at most
 * ~12 per second while dragging, and always on release) and the line under the panel
 * shows the server's ack or its one-line error. "state" broadcasts move the widgets,
 * except the one being dragged.
 */
(function () {
  'use strict';

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    for (const c of children || []) e.appendChild(c);
    return e;
  }

  class ControlsPanel {
    /** root: the panel element; send(name, value) -> id or null. */
    constructor(root, send) {
      this.root = root;
      this.send = send;
      this.styles = [];
      this.sliders = {};   // key -> {input, out, dragging}
      this.status = root.querySelector('#control-status');
      this.taps = [];
      this.acks = 0;
      this.errors = 0;
      this.bindStatic();
    }

    bindStatic() {
      this.slider('energy', this.root.querySelector('#ctl-energy'), (v) => this.sendNow('energy', v));
      this.slider('variation', this.root.querySelector('#ctl-variation'), (v) => this.sendNow('variation', v));
      this.slider('style_strength', this.root.querySelector('#ctl-style_strength'), (v) => this.sendNow('style_strength', v));
      this.slider('smoothing', this.root.querySelector('#ctl-smoothing'), (v) => this.sendNow('smoothing', v));
      this.slider('groove', this.root.querySelector('#ctl-groove'), (v) => this.sendNow('groove', v));
      this.slider('dynamics', this.root.querySelector('#ctl-dynamics'), (v) => this.sendNow('dynamics', v));
      this.slider('novelty', this.root.querySelector('#ctl-novelty'), (v) => this.sendNow('novelty', v));
      const feel = this.root.querySelector('#ctl-feel');
      feel.addEventListener('change', () => this.sendNow('tempo/feel', Number(feel.value)));
      for (const name of ['mirror', 'hold']) {
        const box = this.root.querySelector('#ctl-' + name);
        box.addEventListener('change', () => this.sendNow(name, box.checked));
      }
      const travel = this.root.querySelector('#ctl-root');
      travel.addEventListener('change', () => this.sendNow('root', travel.checked ? 'follow' : 'center'));
      this.root.querySelector('#ctl-reset').addEventListener('click', () => this.sendNow('reset', null));
      const tap = this.root.querySelector('#ctl-tap');
      tap.addEventListener('click', () => this.tap(tap));
    }

    /** Wire a range input and its output element; onValue(v) throttled while dragging. */
    slider(key, input, onValue) {
      const out = input.parentElement.querySelector('output');
      const s = { input, out, dragging: false, last: 0, timer: null };
      this.sliders[key] = s;
      const show = () => { if (out) out.textContent = Number(input.value).toFixed(2); };
      const fire = () => { s.last = performance.now(); onValue(Number(input.value)); };
      input.addEventListener('input', () => {
        s.dragging = true;
        show();
        const wait = 80 - (performance.now() - s.last);
        clearTimeout(s.timer);
        if (wait <= 0) fire(); else s.timer = setTimeout(fire, wait);
      });
      input.addEventListener('change', () => { clearTimeout(s.timer); s.dragging = false; show(); fire(); });
      show();
      return s;
    }

    /** Build the style sliders for the model's styles. */
    setHello(hello) {
      const model = hello.model || {};
      const styles = Array.isArray(model.styles) ? model.styles : [];
      const box = this.root.querySelector('#styles');
      if (styles.join('|') !== this.styles.join('|')) {
        this.styles = styles;
        box.textContent = '';
        for (const k of Object.keys(this.sliders)) if (k.startsWith('style:')) delete this.sliders[k];
        if (!styles.length) box.appendChild(el('p', { class: 'muted', text: 'this model has one style' }));
        styles.forEach((name, i) => {
          const input = el('input', { type: 'range', min: '0', max: '1', step: '0.01', value: '0.5', id: 'style-' + name, 'data-style': name });
          const row = el('label', { class: 'row style-row style-' + (i % 6) }, [
            el('span', { class: 'name', text: name, title: name }), input, el('output', { text: '0.50' })]);
          box.appendChild(row);
          this.slider('style:' + name, input, (v) => this.sendNow('style', [name, v]));
        });
      }
      this.setState(hello.controls || {});
    }

    /** Move widgets to the server's control values (not the one being dragged). */
    setState(c) {
      const put = (key, v) => {
        const s = this.sliders[key];
        if (!s || s.dragging || typeof v !== 'number' || !isFinite(v)) return;
        s.input.value = String(v);
        if (s.out) s.out.textContent = v.toFixed(2);
      };
      put('energy', c.energy);
      put('variation', c.variation);
      put('style_strength', c.style_strength);
      put('smoothing', c.smoothing);
      put('groove', c.groove);
      put('dynamics', c.dynamics);
      put('novelty', c.novelty);
      if (typeof c.root === 'string') this.root.querySelector('#ctl-root').checked = c.root === 'follow';
      if (typeof c.feel === 'number') this.root.querySelector('#ctl-feel').value = String(c.feel);
      const w = c.styles !== undefined ? c.styles : c.style;
      if (Array.isArray(w)) this.styles.forEach((n, i) => put('style:' + n, w[i]));
      else if (w && typeof w === 'object') for (const n of this.styles) put('style:' + n, w[n]);
      for (const name of ['mirror', 'hold']) {
        if (typeof c[name] === 'boolean') this.root.querySelector('#ctl-' + name).checked = c[name];
      }
    }

    /** The style strength the model is fed now (/status style_strength_applied: the slider's
     * value times the style mix's factor in the model), shown under the slider when it differs
     * (not for the equal mix of all styles, which every strength leaves as it is). */
    showApplied(v) {
      const e = this.root.querySelector('#fed-style_strength');
      const s = this.sliders.style_strength;
      if (!e || !s) return;
      const w = this.styles.map((n) => Number(this.sliders['style:' + n].input.value));
      const equal = w.length > 0 && Math.max(...w) - Math.min(...w) < 1e-6;
      const differs = !equal && typeof v === 'number' && isFinite(v) && Math.abs(v - Number(s.input.value)) >= 0.005;
      e.hidden = !differs;
      e.textContent = differs ? 'fed ' + v.toFixed(2) + ' for this style mix' : '';
    }

    /** The user energy past which the style mix moves no bigger (/status energy_reach: the
     * model's measured ceiling over the mix's scale), shown under the slider while it is past it. */
    showReach(v) {
      const e = this.root.querySelector('#fed-energy');
      const s = this.sliders.energy;
      if (!e || !s) return;
      const past = typeof v === 'number' && isFinite(v) && Number(s.input.value) > v + 0.005;
      e.hidden = !past;
      e.textContent = past ? 'no bigger past ' + v.toFixed(2) + ' for this style mix' : '';
    }

    sendNow(name, value) {
      const id = this.send(name, value);
      if (id === null) this.show('not connected: ' + name + ' not sent', 'err');
      else this.show('sent ' + name + ' ' + fmt(value) + ' …', 'wait');
    }

    tap(button) {
      const now = performance.now();
      this.taps = this.taps.filter((t) => now - t < 3000);
      this.taps.push(now);
      button.classList.remove('flash'); void button.offsetWidth; button.classList.add('flash');
      const n = this.taps.length;
      const bpm = n >= 2 ? 60000 * (n - 1) / (this.taps[n - 1] - this.taps[0]) : null;
      this.root.querySelector('#tap-bpm').textContent = bpm ? bpm.toFixed(0) + ' BPM' : 'tap again';
      this.sendNow('tempo/tap', null);
    }

    /** A reply from the server to one of our controls. */
    onReply(msg, pending) {
      const name = (pending && pending.name) || msg.name || 'control';
      if (msg.type === 'ack') {
        this.acks++;
        const ms = pending ? ' (' + Math.round(performance.now() - pending.sent) + ' ms)' : '';
        this.show('✓ ' + name + ' = ' + fmt(msg.value !== undefined ? msg.value : pending && pending.value) + ms, 'ok');
      } else {
        this.errors++;
        this.show('✗ ' + name + ': ' + (msg.message || 'refused'), 'err');
      }
    }

    show(text, kind) {
      this.status.textContent = text;
      this.status.className = 'status ' + kind;
      this.status.dataset.acks = String(this.acks);
      this.status.dataset.errors = String(this.errors);
    }
  }

  function fmt(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return v.toFixed(2);
    if (Array.isArray(v)) return v.map(fmt).join(' ');
    return String(v);
  }

  window.DM = window.DM || {};
  window.DM.controls = { ControlsPanel };
})();
