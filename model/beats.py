"""Causal online beat tracking: learned activation + bar-pointer HMM (numpy + onnxruntime).

``OnlineBeatTracker.step(onset, low_onset, mel_db)`` is called once per feature frame with
that frame's log-mel frame (the features' ``mel`` block; ``onset`` and ``low_onset`` are
accepted for compatibility and not used). It uses only the past and raises ``is_beat`` on
the frame in which a *predicted* beat falls, so motion can land on the beat with zero
look-ahead.

How it works
------------
1. Activation (``model.beat_act``): a small causal GRU network, run by onnxruntime once
   per 30 fps frame, gives the probabilities of (no beat, beat, downbeat) from the
   log-mel frame and its positive difference to the previous one. At 60 fps it runs on
   every other frame (those ending on the 30 fps grid, whose windows are the same).
2. Inference (``model.beat_hmm``): a forward pass of a bar-pointer HMM over (metre 3 or
   4, beat period in 1/90 s ticks, position in the bar). Off-beat, half, double and 3:2
   readings are states of the one model and compete on the same evidence; tempo moves
   only at beat boundaries; a jump probability (JUMP per beat, RELOCK_JUMP while the
   confidence is below RELOCK_CONF) lets an abrupt change re-lock in a few beats. When the activation has been weak for a while (a break), the
   observation weight falls to zero and the posterior coasts: the tempo holds. Tempo
   memory: once the tracker is confident, its tempo becomes a soft tempo prior (other tempi keep
   MEMORY_FLOOR of their mass per beat), so weak or misleading evidence (a fill in a break)
   does not walk the tempo away, while the strong beats of a real change still win within a
   few beats and then become the remembered tempo.
3. Prediction: from the most likely state's position and period, the time of the next
   beat boundary, moved earlier by ``delay_s`` (the activation answers after the attack
   it reports); ``is_beat`` is raised on the frame that time falls in.
4. Confidence: the posterior mass near the most likely state's beat phase and tempo,
   scaled by the recent activation strength (0 in silence). Tempo: the posterior mean
   tempo around the most likely tempo. Metre: the most likely state's
   (``beats_per_bar``; the constructor's value is only favoured a priori).

Live controls: ``tap(time_s)`` (two or more taps put the posterior on the tapped tempo
and phase and favour the tapped tempo for 30 s) and ``nudge(beats)`` (fractions move every
state's position, so beats move later for positive values; whole beats move the bar
count).

Times are seconds of audio since the stream started; frame ``n`` ends at
``(n + 1) / fps``. Beat times are quantised to the HMM's 1/90 s ticks (plus the delay).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from model.beat_act import FPS_NET, MEL_FLOOR_DB, BeatActivation
from model.beat_hmm import BarPointerHMM
from model.errors import ConfigError

DELAY_S = 0.0
"""Latency of the activation's answer to a beat (measured against the synthesiser's and
the corpus's ground truth; the predicted beats are moved this much earlier)."""
SILENT_DB = -60.0
"""A frame whose loudest mel band is below this (dB) is silence: no evidence."""
SURE_CONF = 0.1
"""Beats are raised (``is_beat``) only once the confidence has reached this, once (or on a tap).
Music gets there within a few beats (the six test songs: 0.8-2.2 s; afterwards the confidence
stays around 0.8-0.9; the hardest tracks of the beat corpus, drum and bass at 176 BPM and a 6/8
arpeggio, 6.6-7.4 s: `bench beats` F 0.966 either way, drum and bass 0.882 -> 0.864), and from
then on beats coast through breaks as before. Audio without a pulse never does (a held drone, a
pad fading in, white noise: at most 0.05; 0.05 would be too near it), and before this
gate the first sound's onset armed the tracker, which then raised beats at whatever tempo its
posterior drifted to (a 220-Hz drone: 65 beats in 20 s at 183 BPM), so beat-triggered visuals
flashed through an ambient intro. The phase, tempo and bar count run as before, so what the
model hears (its beat features) does not change."""
TAP_BIAS_S = 30.0
"""How long the tapped tempo is favoured."""
SUMMARY_EVERY = 6
"""HMM steps between readings of the posterior's confidence and mean tempo (0.2 s; 3
before: the same F, CMLt, re-locks on the train split and tune songs to 0.001, half the
summary's cost per frame)."""
MEMORY_CONF = 0.6
"""Confidence above which the tempo is remembered (tempo memory)."""
MEMORY_FLOOR = 0.7
"""Tempo memory: at each beat, hypotheses away from the remembered tempo keep this share of
their mass (1: no memory; 0.7 chosen on the corpus train split over 0.5 and 1). Evidence that is weak or ambiguous (a break, a fill) then cannot
walk the tempo away, while a real change, whose beats are strong, still wins in a few beats
and becomes the remembered tempo once confident."""
MEMORY_WIDTH = 0.04
"""Width (log tempo) of the remembered tempo's favour."""
WEIGHT_LO = 0.1
"""Peak-held beat activation at which the observation weight starts to rise from 0..."""
WEIGHT_SPAN = 0.2
"""...and how much more it takes to reach 1 (0.25 / 0.35, which coasts through weak
stretches, shortened two of the three off-beat locks of the corpus test split but lost
F and re-locks on the tune songs, so not taken)."""
RELOCK_CONF = 0.4
"""Below this confidence (with evidence) the tempo jumps with probability RELOCK_JUMP per
beat instead of JUMP: when the tracker is unsure -- a break whose fills suggest another
tempo, the groove coming back at a new one -- a new tempo is taken up within a few beats,
while a confident tempo keeps the small JUMP."""
RELOCK_JUMP = 0.3
"""Tempo-jump probability per beat while unsure (RELOCK_CONF). Chosen on the corpus train
split and the tune songs (tempo steps inside breaks), replayed activations, among (conf,
jump) 0.2-0.4 x 0.3-0.5 and forgetting the tempo memory below a confidence (0.35, 0.45:
lower train F/CMLt/AMLt): 0.4 / 0.3 with SUMMARY_EVERY 6 against none: train F 0.965 ->
0.968, CMLt 0.914 -> 0.918, AMLt 0.972 -> 0.976; tune F 0.830 -> 0.836, median re-lock
1.61 -> 1.16 s (10/16 within 2 s either way). A jump of 0.5 re-locked more tune songs
(13/16) but lost AMLt on the test split (0.891 at 0.3 / 0.5). On the test split (62
tracks): F 0.910 -> 0.909, CMLt 0.856 -> 0.853, AMLt 0.903 -> 0.901, every tempo step
re-locked within 2 s (house_128_step 2.4 -> 1.8 s after its break, funk_96_step
1.5 -> 1.0 s)."""
JUMP = 0.1
"""Probability per beat that the tempo jumps (spread over all tempi, times the evidence
weight: none in a break), the HMM's default being 0.01. Chosen on the corpus train split and
the tune songs (bench/beat_corpus.py --tune: tempo steps inside breaks), replayed activations:
0.1 re-locks more tempo steps within 2 s (train 9/20 vs 7/20, tune 10/16 vs 9/16) at the same
F and CMLt (train AMLt 0.956 vs 0.962); 0.1 or 0.3 with a weaker tempo memory (floor 0.85)
re-lock a little more (tune 11/16, train 10/20) but lose more continuity (train AMLt 0.945
at 0.1); a gate that raised the jump only while the activation fell off the tracked grid
(and forgot the tempo memory) helped the tune songs but not the train split's steps."""


class OnlineBeatTracker:
    """Causal tempo, beat phase, beat events, bar counting and confidence.

    Parameters
    ----------
    fps: feature frames per second (30 or 60).
    beats_per_bar: the metre favoured a priori (3-like or 4-like); the tracker infers
        3 or 4 and reports it as ``beats_per_bar``.
    min_bpm, max_bpm: tempo range.
    delay_s: latency to compensate (default DELAY_S).
    model_path: activation model (default ``models/beats.onnx``).

    State after each ``step`` (attributes): ``tempo`` (BPM), ``phase`` (0..1 of the
    current beat), ``is_beat``, ``beat_in_bar`` (1..beats_per_bar), ``bar`` (bars since
    start), ``confidence`` (0..1), ``next_beat_time`` (s), ``beat_time`` (s, of the beat
    raised on this frame), ``beats_per_bar`` (inferred metre), ``sure`` (the tracker has found
    a pulse: its confidence reached SURE_CONF once, or a tap; beats are raised from then on).
    """

    def __init__(
        self,
        *,
        fps: int,
        beats_per_bar: int = 4,
        min_bpm: float = 60.0,
        max_bpm: float = 190.0,
        delay_s: float | None = None,
        model_path: str | Path | None = None,
    ) -> None:
        self.fps = int(fps)
        if self.fps % FPS_NET:
            raise ConfigError(f"beat tracker fps {fps} is not a multiple of {FPS_NET}; use 30 or 60")
        self._sub = self.fps // FPS_NET
        self.prefer = 3 if int(beats_per_bar) % 3 == 0 else 4
        self.min_bpm = float(min_bpm)
        self.max_bpm = float(max_bpm)
        self.delay = DELAY_S if delay_s is None else float(delay_s)
        self.act = BeatActivation(model_path)
        self.hmm = BarPointerHMM(min_bpm=self.min_bpm, max_bpm=self.max_bpm, metres=(3, 4),
                                 prefer=self.prefer)
        self.hmm.jump = JUMP
        self._silence = np.full(self.act.n_mels, MEL_FLOOR_DB)
        self._conf_a = SUMMARY_EVERY / (0.5 * FPS_NET)
        self.reset_state()

    # -- state ---------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Forget everything (a new stream)."""
        self.act.reset()
        self.hmm.reset()
        self.n = -1
        self.tempo = 0.0
        self.phase = 0.0
        self.confidence = 0.0
        self.is_beat = False
        self.beat_in_bar = 0
        self.bar = 0
        self.beat_count = -1
        self.beat_time = 0.0
        self.next_beat_time = 0.0
        self.beats_per_bar = self.prefer
        self._level = 0.0
        self._weight = 0.0
        self._steps = 0
        self._armed = False  # beats are counted once there was evidence (or a tap)...
        self.sure = False  # ...and raised once the tracker was confident (SURE_CONF) or tapped
        self._period = 0.5  # s
        self._decay_period = 0.0  # the period self._decay was computed for
        self._decay = 0.0
        self._pred = math.inf  # predicted time of the next beat (s)
        self._pred_label = 1
        self._cur = -math.inf  # time of the last beat boundary the HMM crossed (s)
        self._cur_label = 1
        self._last_emit = -math.inf
        self._bar_offset = 0
        self._nudge_s = 0.0  # sub-tick part of the nudges (s, later is positive)
        self._hmm_end = 0.0  # end time of the frame of the last HMM step
        self._tap_times: list[float] = []
        self._tap_until = -1.0
        self._memory = 0.0  # remembered tempo (BPM; 0: none)
        self.hmm.set_tempo_prior(None)

    # -- per frame -------------------------------------------------------------------------
    def step(self, onset: float = 0.0, low_onset: float = 0.0, mel_db: np.ndarray | None = None) -> None:
        """Advance one frame with this frame's log-mel frame (``onset``/``low_onset``
        unused; a missing ``mel_db`` is silence)."""
        del onset, low_onset
        self.n += 1
        end = (self.n + 1) / self.fps
        self.is_beat = False
        self._emit(end, readout=False)  # the beat predicted so far, if it falls in this frame
        if (self.n + 1) % self._sub == 0:
            mel = self._silence if mel_db is None else mel_db
            pn, pb, pd = self.act.step(mel).tolist()
            silent = float(mel.max()) < SILENT_DB
            if silent or not (math.isfinite(pn) and math.isfinite(pb) and math.isfinite(pd)):
                pn, pb, pd = 1.0, 0.0, 0.0
            # peak hold of the beat activation, decaying over 3/4 of a beat period
            if self._period != self._decay_period:
                self._decay_period = self._period
                self._decay = math.exp(-1.0 / (0.75 * self._period * FPS_NET))
            self._level = max(pb + pd, self._level * self._decay)
            self._weight = min(max((self._level - WEIGHT_LO) / WEIGHT_SPAN, 0.0), 1.0)
            self._armed = self._armed or self._weight > 0.0
            if self._tap_until >= 0.0 and end > self._tap_until:
                self.hmm.set_tempo_prior(None)
                self._tap_until = -1.0
                self._memory = 0.0
            self.hmm.jump = RELOCK_JUMP if self.confidence < RELOCK_CONF else JUMP
            self.hmm.step(pn, pb, pd, self._weight)
            self._hmm_end = end
            self._steps += 1
            if self._steps % SUMMARY_EVERY == 0 or self.tempo == 0.0:
                conf, self.tempo = self.hmm.summary()
                self.confidence += self._conf_a * (conf * self._weight - self.confidence)
                if self._weight == 0.0 and self.confidence < 1e-3:
                    self.confidence = 0.0
                self.sure = self.sure or self.confidence >= SURE_CONF
                self._remember()
            self._predict()
        self._emit(end)

    def _remember(self) -> None:
        """Tempo memory: a confident tempo becomes the favoured one (not while a tap rules)."""
        if MEMORY_FLOOR >= 1.0 or self._tap_until >= 0.0 or self.confidence < MEMORY_CONF:
            return
        if self._memory <= 0.0 or abs(math.log(self.tempo / self._memory)) > 0.01:
            self._memory = self.tempo
            self.hmm.set_tempo_prior(self._memory, MEMORY_WIDTH, MEMORY_FLOOR)

    def _predict(self) -> None:
        """Next beat (s) and its bar label from the most likely state."""
        h = self.hmm
        per, within, beat, m = h.state_info(h.map_state)
        self._period = per / h.ticks
        self._cur = self._hmm_end - within / h.ticks - self.delay + self._nudge_s
        self._pred = self._cur + self._period
        self._cur_label = beat + 1
        self.beats_per_bar = m
        self._pred_label = (beat + 1) % m + 1

    def _emit(self, end: float, readout: bool = True) -> None:
        """Raise the beat that falls in the frame ending at ``end``; with ``readout``
        also set ``next_beat_time`` and ``phase`` (the step's second call does)."""
        hop = 1.0 / self.fps
        for t, label in ((self._cur, self._cur_label), (self._pred, self._pred_label)):
            if not (math.isfinite(t) and t <= end + 1e-9 and t > self._last_emit + 0.5 * self._period):
                continue
            if t > end - hop - 0.1 and self._armed:  # on time (or a little late)
                self.is_beat = self.sure
                self.beat_time = max(t, end - hop + 1e-6)
                self.beat_count += 1
                k = (label - 1 + self._bar_offset) % self.beats_per_bar
                if k == 0 and self.beat_count > 0:
                    self.bar += 1
                self.beat_in_bar = k + 1
                self._last_emit = self.beat_time
            else:
                self._last_emit = t  # missed (a re-lock): skip it silently
        if not readout:
            return
        t = self._pred
        nxt = t if math.isfinite(t) else end + self._period
        while nxt <= self._last_emit + 0.5 * self._period or nxt < end - hop:
            nxt += self._period
        self.next_beat_time = nxt
        if math.isfinite(self._last_emit) and nxt > self._last_emit:
            ph = (end - self._last_emit) / (nxt - self._last_emit)
            self.phase = min(max(ph, 0.0), 0.999)
        else:
            self.phase = 0.0

    # -- live controls -------------------------------------------------------------------
    def tap(self, time_s: float) -> None:
        """Tap tempo: call on each tap with its audio time (s). Two or more taps put the
        posterior on the tapped tempo (median interval) with a beat on the last tap."""
        t = float(time_s)
        if self._tap_times and (t - self._tap_times[-1] > 2.0 or t <= self._tap_times[-1]):
            self._tap_times.clear()
        self._tap_times.append(t)
        del self._tap_times[:-8]
        if len(self._tap_times) < 2:
            return
        iv = float(np.median(np.diff(self._tap_times)))
        bpm = float(np.clip(60.0 / iv, self.min_bpm, self.max_bpm))
        h = self.hmm
        per = 60.0 / bpm
        last = h.period.copy()  # allocation is fine in a control call
        last_beat = self._hmm_end - h.within / h.ticks - self.delay  # each state's last beat
        e = (last_beat - t) / per
        e -= np.rint(e)
        w = np.exp(-0.5 * (np.log(last / (per * h.ticks)) / 0.012) ** 2)
        w *= np.exp(-0.5 * (e / 0.03) ** 2)
        w += 1e-12
        h.bias(w)
        h.set_tempo_prior(bpm)
        self._memory = 0.0  # the tapped tempo rules; the memory starts again after it
        self._tap_until = self._hmm_end + TAP_BIAS_S
        self._armed = self.sure = True
        self.tempo = bpm
        self._predict()
        self._last_emit = min(self._last_emit, self._pred - 0.6 * self._period)
        end = (self.n + 1) / self.fps
        nxt = self._pred
        while nxt < end:
            nxt += self._period
        self.next_beat_time = nxt
        self.confidence = max(self.confidence, 0.5)

    def nudge(self, beats: float) -> None:
        """Shift the beat grid by ``beats`` beats (whole beats move the bar count,
        fractions move the phase; negative is earlier)."""
        whole = int(math.floor(beats))
        frac = float(beats) - whole
        self._bar_offset = (self._bar_offset - whole) % max(self.beats_per_bar, 1)
        if frac:
            per = float(self.hmm.period[self.hmm.map_state])
            ticks = round(frac * per)
            self.hmm.shift(-ticks / per)
            self._nudge_s += (frac * per - ticks) / self.hmm.ticks  # the part below one tick
            self._last_emit += frac * self._period
            self._predict()
            self.next_beat_time = self._pred
