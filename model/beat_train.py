"""Train the causal beat/downbeat activation network and export it to ONNX (train side).

The network (``BeatNet``) reads, per 30 fps frame, the log-mel frame and builds its inputs
in the graph (64 log-mel bands, their positive differences to the previous 30 fps frame,
the mean of those, and the log bass power flux), then one linear layer and a two-layer GRU
(causal by construction) give three class probabilities: no beat, beat, downbeat. The
exported graph takes one frame, the previous frame and the GRU state and returns the
probabilities and the next state (``model.beat_act.BeatActivation`` runs it). Targets:
the frame that first sees a beat is 1 for its class (downbeat or beat), its neighbours 0.5.

Training data: synthetic songs (``model.synth_music``, exact beats) at random tempi,
feels, breaks and tempo changes (weighted 0.4); the real-instrument corpus
``data/beat_corpus/train`` (``bench/beat_corpus.py``; its ``test`` split is never read
here); and ``--extra N`` more songs rendered the same way (``model.midi_music`` +
fluidsynth, one augmented copy each, seeds 1000 + i, far from the test seeds 100000+).
Log-mel frames come from ``model.features.StreamingFeatures`` (what the live path
computes) and are cached under ``--out``. Augmentation while training: gain and EQ tilt
of the log-mel frames; with ``--offbeat P`` a share P of the training windows also gets
synthetic off-beat percussion and bass (``model.audio_augment.offbeat_percussion``:
hi-hat, open hat or clap bursts between the beats, sometimes a rolling off-beat bassline,
sometimes the kick cut), labelled "no beat", against locking onto the off-beat in grooves
whose strongest onsets are off the beat.

Commands that made the shipped ``models/beats.onnx`` (v11; ``make beats-model`` runs them;
about 45 minutes of data building and 62 of training on one loaded CPU core): v3 from
scratch on the synthetic songs, the corpus train split and 70 extra songs; v4 fine-tuned
from it with 24 more extra songs and the grown train split; then v10 in two fine-tunes of
20 minutes, each after rendering more extra songs of the grooves the net before it read off
the beat (``--extra-genres``; 200 songs of techno, trance, hip-hop, funk, metal, house and
disco, seeds 5000-5199, then 150 of dance-pop, salsa, disco, funk and the other club and
latin grooves, seeds 5200-5349; one augmented copy each)::

    nice -n 10 env OMP_NUM_THREADS=1 python3 -m model.beat_train \
        --out runs/beats --export models/beats.onnx --minutes 13 --extra 70 --extra-minutes 30
    cp runs/beats/best.pt runs/beats/v3.pt
    nice -n 10 env OMP_NUM_THREADS=1 python3 -m model.beat_train --out runs/beats \
        --export models/beats.onnx --minutes 9 --extra 100 --extra-minutes 12 \
        --init runs/beats/v3.pt --lr 1e-3
    cp runs/beats/best.pt runs/beats/v4.pt
    python3 -m model.beat_train --out runs/beats --data-only --extra 200 --extra-start 5000 \
        --extra-genres techno,techno,trance,hiphop,hiphop,funk,metal,house,disco
    python3 -m model.beat_train --out runs/beats --export models/beats.onnx --minutes 20 \
        --init runs/beats/v4.pt --lr 1e-3 --seed 4
    cp runs/beats/best.pt runs/beats/v10a.pt
    python3 -m model.beat_train --out runs/beats --data-only --extra 150 --extra-start 5200 \
        --extra-genres dancepop,dancepop,salsa,salsa,disco,disco,funk,funk,mambo,reggaeton,...
    python3 -m model.beat_train --out runs/beats --export models/beats.onnx --minutes 20 \
        --init runs/beats/v10a.pt --lr 1e-3 --seed 6
    cp runs/beats/best.pt runs/beats/v10.pt
    python3 -m model.beat_train --out runs/beats --export models/beats.onnx --minutes 20 \
        --init runs/beats/v10.pt --lr 1e-3 --seed 8 --break-weight 2

(v11, the last line, was made in session 25 from the shipped v10 itself: ``--init
models/beats.onnx`` rebuilds the torch net from the ONNX file, ``state_from_onnx``; the data
re-rendered on a fresh machine with the same commands: 138 corpus files, 450 extra songs in
900 files, 160 synthetic songs.)

Why v11: a third fine-tune of v10 for 20 minutes (8026 steps on an idle core) with the loss
inside breaks (drums out; the corpus's and extra songs' section labels, kept in the mel
caches) counted three times (``--break-weight 2``). v10's remaining off-beat stretches were
drifts through breaks: right after the drums stop it kept firing for a few seconds about an
eighth to a quarter of a beat early, then the tracker followed weak, early evidence. Chosen
on the held-out and tune songs, never the test split (run once, after the choice), by the
fewest tracks with an off-beat lock over 4 s (a tie, 1 and 1), then the fewest re-locks over
2 s (17 against 19); a close call, and the other candidate's worst lock is shorter:

    net (replayed activations)      held-out F / CMLt / AMLt / downbeat F  locks>4s  tune F  locks>4s  re-locks<=2s
    v10 (shipped before)            0.952 / 0.916 / 0.936 / 0.875          1 (4.7)   0.867   2 (6.2)   56/80
    v10 + 20 min, no break weight   0.969 / 0.943 / 0.951 / 0.901          0 (3.3)   0.887   1 (6.1)   61/80
    v11: + 20 min, break weight 2   0.971 / 0.949 / 0.954 / 0.897          1 (11.2)  0.888   0 (1.8)   63/80
    the two averaged (weights)      0.971 / 0.949 / 0.956 / 0.896          1 (9.8)   0.889   0 (2.7)   59/80

So most of the gain is more training on the same data; the break weight adds a little
(re-locks, CMLt) and moves the worst lock to another song (a held-out reggaeton whose break
lead plays on the off-beat). Tried on the tracker side first with v10's activations, none kept:
a narrower or stronger tempo memory (width 0.02, floor 0.5), a gate relative to the slow peak
level of the activation (0.4-0.6 of an 8 s peak follower: the drift stayed, re-locks fell to
49-53/80), and a flywheel that holds the last confident grid while the confidence is low
(re-locks 38-42/80).

Why v10 (session 24): v4's train corpus held 16 techno, 5 trance and 5 hip-hop files among 322, and
its off-beat locks were in exactly those grooves (kick alone on the beat, open hat, bass and
clap off it). Chosen on the 124 held-out songs (seeds 90000+/91000+) and 80 tune songs, never
on the test split (replayed activations through the unchanged tracker): held-out F 0.896 ->
0.952, CMLt 0.833 -> 0.916, AMLt 0.886 -> 0.936, downbeat F 0.759 -> 0.875, tracks with an
off-beat lock over 4 s 6 -> 1 (longest 11.7 -> 4.7 s); tune F 0.844 -> 0.867, CMLt 0.765 ->
0.818, downbeat F 0.610 -> 0.739, locks 3 -> 2 (13.4 -> 6.2 s), re-locks within 2 s 52 -> 56
of 80. The first fine-tune alone (v10a) cut the techno and hip-hop locks (tune: none, 57/80
re-locks) but locked on dance-pop, salsa and disco instead (held-out 3 tracks, one for
44.5 s), hence the second. Also tried: a GRU of 64 with 300-frame training
windows, 40 minutes from scratch, on the old corpus (held-out F 0.914 but 12 locks) and on
the grown one (F 0.933, 5 locks): the data, not the width, is what mattered.

Tried and not shipped (issue 11's off-beat locks): v4 fine-tuned 13 minutes with the
off-beat augmentation on 30 % of the windows at lr 5e-4 (``cp runs/beats/best.pt
runs/beats/v4.pt`` after v4, then ``--init runs/beats/v4.pt --lr 5e-4 --offbeat 0.3
--minutes 13``; "v7"). Against v4 (replayed activations through the tracker; corpus train
split 138 files / tune songs 16 / 80 held-out rendered songs, seeds 90000-90039, that no
training saw): F 0.957 -> 0.959 / 0.836 -> 0.845 / 0.915 -> 0.919, AMLt 0.955 -> 0.958 /
0.755 -> 0.749 / 0.895 -> 0.923, tune re-locks within 2 s 10/16 -> 12/16, off-beat locks
over 4 s 1 -> 0 / 1 -> 1 / 2 -> 3. On the corpus test split (``bench/beats.py``): F
0.909 -> 0.916, AMLt 0.901 -> 0.913, club F 0.915 -> 0.934, off-beat locks over 4 s 3 -> 1
(longest 12.3 -> 5.0 s), but two re-locks after a break with a tempo step took 3.0 s
(v4: 1.8 and 1.0 s), which issue 11 does not allow, so v4 stays. The augmentation on
50-60 % of the windows at lr 1e-3 (hats only, or hats and bass) lowered F on the train
split and the held-out songs and gave more off-beat locks there (held-out: 6 and 4 tracks).
On 124 newer held-out songs (the test list's genres and tempo maps, seeds 90000-90061 and
91000-91061) v7 is no real fix: tracks with an off-beat lock over 4 s v4 6 / v7 5 (longest
11.7 / 10.4 s), and on 80 tune songs 3 / 4. "v8", v4 fine-tuned 13 minutes at lr 5e-4 with
``--offbeat 0.3 --offbeat-weight 2`` (the loss of the frames half a beat off counted 3x):
held-out F 0.896 -> 0.905, AMLt 0.886 -> 0.889, off-beat locks over 4 s 6 -> 6 (longest
18.1 s); tune F 0.844 -> 0.830, locks 3 -> 6, re-locks within 2 s 52 -> 50 of 80. Not shipped.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from model.audio_augment import offbeat_percussion
from model.beat_act import FPS_NET, LOW_BANDS, MEL_FLOOR_DB

CLASSES = 3  # none, beat, downbeat


class _NullTracker:
    """Stands in for the beat tracker while features are extracted for training."""

    tempo = 0.0
    phase = 0.0
    is_beat = False
    beat_in_bar = 1
    bar = 0
    confidence = 0.0
    next_beat_time = 0.0
    beat_time = 0.0
    beats_per_bar = 4

    def __init__(self, **kwargs: Any) -> None:
        pass

    def step(self, *args: Any, **kwargs: Any) -> None:
        pass


def mel_frames(audio: np.ndarray, sr: int) -> np.ndarray:
    """Log-mel frames [shape=(t, 64)] at 30 fps of ``audio`` (as the live path computes)."""
    import model.features as mf
    from model.config import defaults

    cfg = defaults()["features"]
    cfg["fps"] = FPS_NET
    real = mf.OnlineBeatTracker
    mf.OnlineBeatTracker = _NullTracker  # type: ignore[misc,assignment]  # no model needed
    try:
        sf = mf.StreamingFeatures(cfg, input_sr=sr)
    finally:
        mf.OnlineBeatTracker = real  # type: ignore[misc]
    feats = sf.push(audio)
    return np.ascontiguousarray(feats[:, sf.spec.slice("mel")], dtype=np.float32)


def targets_of(beats: np.ndarray, downbeats: np.ndarray, n: int) -> np.ndarray:
    """Class targets [shape=(t, 3)] (soft): the frame that first sees a beat is 1 for its
    class, its neighbours 0.5 (frame ``i`` covers ``(i/fps, (i+1)/fps]``)."""
    y = np.zeros((n, CLASSES), np.float32)
    y[:, 0] = 1.0
    down = set(np.round(np.asarray(downbeats) * 1000).astype(int).tolist())
    for t in beats:
        i = int(math.floor(t * FPS_NET))
        c = 2 if int(round(t * 1000)) in down else 1
        for j, w in ((i - 1, 0.5), (i + 1, 0.5), (i, 1.0)):
            if 0 <= j < n and y[j, c] < w:
                y[j, :] *= 1.0 - w
                y[j, c] += w
    return y


def offbeat_frames(beats: np.ndarray, n: int) -> np.ndarray:
    """[shape=(t,)] 1 for the frame holding each point half-way between two beats and its two
    neighbours (as ``targets_of`` marks a beat), else 0."""
    w = np.zeros(n, np.float32)
    b = np.asarray(beats, float)
    for t in 0.5 * (b[:-1] + b[1:]):
        i = int(math.floor(t * FPS_NET))
        w[max(0, i - 1): max(0, min(n, i + 2))] = 1.0
    return w


def synth_items(n_songs: int, seconds: float, seed: int) -> list[dict[str, Any]]:
    """Rendered synthetic songs with their inputs and targets."""
    from model.synth_music import FEELS, render_song

    rng = np.random.default_rng(seed)
    items = []
    for k in range(n_songs):
        feel = FEELS[k % len(FEELS)]
        bpm = float(np.exp(rng.uniform(np.log(62), np.log(195))))
        tc = None
        if rng.random() < 0.25:
            tc = (float(rng.uniform(5, seconds - 5)), float(np.clip(bpm * rng.uniform(0.7, 1.4), 62, 195)))
        br = None
        if rng.random() < 0.25:
            br = (float(rng.uniform(4, seconds - 8)), float(rng.uniform(2, 6)))
        song = render_song(feel=feel, bpm=bpm, seconds=seconds, seed=int(rng.integers(1 << 30)),
                           tempo_change=tc, break_at=br)
        gain = float(10 ** (rng.uniform(-18, 6) / 20))
        mel = mel_frames(song.audio * gain, song.sample_rate)
        items.append({"mel": mel, "y": targets_of(song.beats, song.downbeats, len(mel)),
                      "beats": song.beats, "downbeats": song.downbeats,
                      "name": f"synth-{feel}-{bpm:.0f}"})
    return items


def corpus_items(root: Path, cache: Path) -> list[dict[str, Any]]:
    """The corpus's train split (``*.wav`` + ``*.json`` with beats and downbeats); the
    mel frames of each file are cached in ``cache``."""
    from model.features import load_audio

    if root.name == "test":
        raise ValueError("the corpus's test split is for evaluation only")
    cache.mkdir(parents=True, exist_ok=True)
    items = []
    for js in sorted(root.glob("*.json")):
        try:
            meta = json.loads(js.read_text())
            wav = js.parent / str(meta.get("file", js.with_suffix(".wav").name))
            st = wav.stat()
        except (OSError, ValueError):
            continue  # being written
        cf = cache / f"{js.stem}-{st.st_size}-{int(st.st_mtime)}.npz"
        if not cf.exists():
            y, sr = load_audio(wav)
            tmp = cache / (cf.stem + ".tmp.npz")
            np.savez(tmp, mel=mel_frames(y, sr), beats=np.asarray(meta["beats"], float),
                     downbeats=np.asarray(meta["downbeats"], float),
                     breaks=break_spans(meta.get("sections", [])))
            tmp.replace(cf)
        items.append(_cached_item(cf))
    return items


def extra_corpus(cache: Path, start: int, count: int, *, minutes: float,
                 genres: tuple[str, ...] = ()) -> None:
    """Render more real-instrument songs like the corpus's train split (``model.midi_music``,
    fluidsynth; one augmented copy each) straight into ``cache`` (seeds ``start`` on; the
    corpus's test seeds are 100000 and up, so they never meet), for at most ``minutes``.
    ``genres``: draw only from these (e.g. the grooves the net reads off the beat), else 60 %
    club styles and 40 % the rest."""
    from model.audio_augment import augment
    from model.midi_music import GENRE_GROUPS, GENRES, TempoMap, make_song

    cache.mkdir(parents=True, exist_ok=True)
    club = GENRE_GROUPS["club"]
    others = [g for g in GENRES if g not in club]
    unknown = [g for g in genres if g not in GENRES]
    if unknown:
        raise ValueError(f"unknown genre(s) {', '.join(unknown)}; known: {', '.join(sorted(GENRES))}")
    t0 = time.time()
    for i in range(start, start + count):
        if time.time() - t0 > minutes * 60:
            break
        if i >= 100_000:
            raise ValueError("extra corpus seeds must stay below the test seeds (100000)")
        if any(cache.glob(f"extra{i:05d}*.npz")):
            continue
        rng = np.random.default_rng([11, i])
        if genres:
            genre = str(rng.choice(list(genres)))
        else:
            genre = str(rng.choice(club) if rng.random() < 0.6 else rng.choice(others))
        lo, hi = GENRES[genre]
        bpm = float(rng.uniform(lo * 0.9, hi * 1.1))
        secs = 45.0
        tmap = None
        if rng.random() < 0.15:
            tmap = TempoMap.step(bpm, float(np.clip(bpm * rng.uniform(0.7, 1.4), 60, 200)),
                                 float(rng.uniform(12, secs - 12)))
        song = make_song(genre, bpm=bpm, seconds=secs, seed=i, tempo_map=tmap, sr=24_000,
                         breaks=bool(rng.random() < 0.8))
        versions = [(song.audio, song.beats, song.downbeats, 1.0)]
        aug = augment(song.audio, sr=24_000, beats=song.beats, downbeats=song.downbeats, seed=77 * i)
        versions.append((aug.audio, aug.beats, aug.downbeats, aug.tempo_factor))
        for k, (y, b, d, factor) in enumerate(versions):
            cf = cache / f"extra{i:05d}_{genre}_{k}.npz"
            tmp = cache / (cf.stem + ".tmp.npz")
            np.savez(tmp, mel=mel_frames(np.asarray(y, np.float32), 24_000),
                     beats=np.asarray(b, float), downbeats=np.asarray(d, float),
                     breaks=break_spans(song.sections) / factor)
            tmp.replace(cf)
        print(f"extra {i} {genre} {bpm:.0f} BPM ({time.time() - t0:.0f} s)", flush=True)


def break_spans(sections: Any) -> np.ndarray:
    """[shape=(k, 2)] start and end (s) of the sections labelled "break" (drums out)."""
    spans = [(float(a), float(b)) for a, b, lab in sections if lab == "break"]
    return np.asarray(spans, float).reshape(-1, 2)


def break_frames(spans: np.ndarray, n: int) -> np.ndarray:
    """[shape=(n,)] 1 for the 30 fps frames inside the break ``spans``, else 0."""
    w = np.zeros(n, np.float32)
    for a, b in np.asarray(spans, float).reshape(-1, 2):
        w[max(0, int(a * FPS_NET)): max(0, min(n, int(math.ceil(b * FPS_NET))))] = 1.0
    return w


def _cached_item(cf: Path) -> dict[str, Any]:
    d = np.load(cf)
    mel = d["mel"]
    spans = d["breaks"] if "breaks" in d.files else np.zeros((0, 2))
    return {"mel": mel, "y": targets_of(d["beats"], d["downbeats"], len(mel)),
            "beats": d["beats"], "downbeats": d["downbeats"], "name": cf.stem,
            "brk": break_frames(spans, len(mel)), "has_sections": "breaks" in d.files}


def cached_corpus_items(cache: Path) -> list[dict[str, Any]]:
    """Every corpus song cached so far (also those no longer in the corpus folder)."""
    return [_cached_item(cf) for cf in sorted(cache.glob("*.npz")) if ".tmp" not in cf.name]


def _torch_net(n_mels: int, hidden: int) -> Any:
    import torch
    from torch import nn

    class BeatNet(nn.Module):
        """Inputs from the log-mel frames (see model.beat_act) -> normalise -> linear ->
        ReLU -> 2-layer GRU -> linear (class logits)."""

        def __init__(self) -> None:
            super().__init__()
            n_in = 2 * n_mels + 2
            self.register_buffer("mean", torch.zeros(n_in))
            self.register_buffer("std", torch.ones(n_in))
            self.inp = nn.Linear(n_in, hidden)
            self.gru = nn.GRU(hidden, hidden, num_layers=2, batch_first=True)
            self.out = nn.Linear(hidden, CLASSES)

        def inputs(self, mel: Any, prev: Any) -> Any:
            """mel [B, L, M], prev [B, M] (the frame before) -> inputs [B, L, 2M + 2]."""
            before = torch.cat([prev[:, None], mel[:, :-1]], dim=1)
            d = torch.relu(mel - before)
            onset = d.mean(dim=-1, keepdim=True)
            p = torch.pow(10.0, mel[..., :LOW_BANDS] * 0.1)
            pb = torch.pow(10.0, before[..., :LOW_BANDS] * 0.1)
            flux = torch.log10(torch.relu(p - pb).sum(dim=-1, keepdim=True) + 1e-6)
            return torch.cat([mel, d, onset, flux], dim=-1)

        def forward(self, mel: Any, prev: Any, h: Any = None) -> tuple[Any, Any]:
            x = (self.inputs(mel, prev) - self.mean) / self.std
            y, h = self.gru(torch.relu(self.inp(x)), h)
            return self.out(y), h

    return BeatNet()


def _onnx_parts(path: str | Path) -> tuple[dict[str, np.ndarray], list[Any], list[Any]]:
    """(initializers as float64 arrays, the two MatMul nodes, the two GRU nodes) of an
    exported beat net (``export_onnx``'s graph); ValueError naming the file otherwise."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf raises several kinds on a foreign or corrupt file
        raise ValueError(f"{path} cannot be read as ONNX ({type(e).__name__})") from None
    init = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    nodes = list(model.graph.node)
    mm = [n for n in nodes if n.op_type == "MatMul"]
    grus = [n for n in nodes if n.op_type == "GRU"]
    if len(mm) != 2 or len(grus) != 2 or "net.mean" not in init:
        raise ValueError(f"{path} is not a DanceMuse beat activation model (2 MatMul, 2 GRU expected)")
    for g in grus:
        at = {a.name: onnx.helper.get_attribute_value(a) for a in g.attribute}
        if at.get("linear_before_reset") != 1 or at.get("direction", b"forward") != b"forward":
            raise ValueError(f"{path}: GRU {g.name} is not a forward GRU with linear_before_reset=1")
    return init, mm, grus


def state_from_onnx(path: str | Path) -> dict[str, Any]:
    """The torch state dict of an exported beat net (``export_onnx``'s graph: the shipped
    models/beats.onnx), so that it can be fine-tuned without its training run. ONNX keeps
    the GRU gates in the order z, r, h; torch in r, z, n."""
    import torch

    init, mm, grus = _onnx_parts(path)

    def rz(a: np.ndarray) -> np.ndarray:
        h = a.shape[0] // 3
        return np.concatenate([a[h: 2 * h], a[:h], a[2 * h:]])

    st: dict[str, np.ndarray] = {
        "mean": init["net.mean"], "std": init["net.std"],
        "inp.weight": init[mm[0].input[1]].T, "inp.bias": init["net.inp.bias"],
        "out.weight": init[mm[1].input[1]].T, "out.bias": init["net.out.bias"],
    }
    for k, g in enumerate(grus):
        w, r, b = (init[g.input[j]][0] for j in (1, 2, 3))
        h = r.shape[1]
        st[f"gru.weight_ih_l{k}"], st[f"gru.weight_hh_l{k}"] = rz(w), rz(r)
        st[f"gru.bias_ih_l{k}"], st[f"gru.bias_hh_l{k}"] = rz(b[: 3 * h]), rz(b[3 * h:])
    return {k: torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in st.items()}


def export_onnx(net: Any, path: Path, hidden: int, n_mels: int) -> None:
    """Write the streaming graph: (mel [1, 1, M], prev [1, M], h [2, 1, H]) ->
    (p [1, 1, 3], h_out, prev_out) (atomic: temp file + rename)."""
    import torch
    from torch import nn

    class StepNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, mel: Any, prev: Any, h: Any) -> tuple[Any, Any, Any]:
            logits, h2 = self.net(mel, prev, h)
            return torch.softmax(logits, dim=-1), h2, mel[:, 0] + 0.0

    step = StepNet().eval()
    args = (torch.zeros(1, 1, n_mels), torch.zeros(1, n_mels), torch.zeros(2, 1, hidden))
    tmp = path.with_suffix(".tmp.onnx")
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(step, args, str(tmp), input_names=["mel", "prev", "h"],
                          output_names=["p", "h_out", "prev_out"], opset_version=17, dynamo=False)
    tmp.replace(path)


def export_numpy(src: str | Path, dst: str | Path | None = None) -> Path:
    """Write the numpy weights of the activation model ``src`` (``model.beat_act`` runs
    them): the normalisation folded into the first layer (the onset column into the
    difference columns, the bias as a last column), each GRU layer's gates as one matrix
    [z, r, input part of n, hidden part of n] over [input, hidden, 1] with the z and r rows
    halved (sigmoid from tanh), the output layer over [h2, 1]; plus the SHA-256 of ``src``,
    so the runtime uses them only beside that very file. Needs the ``onnx`` package."""
    from model.beat_act import NPZ_VERSION, numpy_weights_path, sha256_file

    src = Path(src)
    try:
        init, mm, grus = _onnx_parts(src)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    mean, std = init["net.mean"], init["net.std"]
    w = init[mm[0].input[1]].T / std  # [H, 2M + 2] on the raw inputs
    m = (w.shape[1] - 2) // 2
    hid = w.shape[0]
    w_in = np.zeros((hid, 2 * m + 2))
    w_in[:, : 2 * m] = w[:, : 2 * m]
    w_in[:, m: 2 * m] += w[:, 2 * m: 2 * m + 1] / m  # onset = mean of the differences
    w_in[:, 2 * m] = w[:, 2 * m + 1]  # bass flux
    w_in[:, 2 * m + 1] = init["net.inp.bias"] - w @ mean

    def gates(gru: Any, first: bool) -> np.ndarray:
        wi, ri, bi = (init[gru.input[k]][0] for k in (1, 2, 3))  # ONNX gate order z, r, h
        h = ri.shape[1]
        wb, rb = bi[: 3 * h], bi[3 * h:]
        g = np.zeros((4 * h, 2 * h + 1))
        xi, hi, bc = (slice(1, h + 1), slice(h + 1, 2 * h + 1), 0) if first else \
            (slice(0, h), slice(h, 2 * h), 2 * h)
        g[: 2 * h, xi] = wi[: 2 * h]
        g[: 2 * h, hi] = ri[: 2 * h]
        g[: 2 * h, bc] = wb[: 2 * h] + rb[: 2 * h]
        g[: 2 * h] *= 0.5
        g[2 * h: 3 * h, xi] = wi[2 * h:]
        g[2 * h: 3 * h, bc] = wb[2 * h:]
        g[3 * h:, hi] = ri[2 * h:]
        g[3 * h:, bc] = rb[2 * h:]
        return g

    w_out = np.concatenate([init[mm[1].input[1]].T, init["net.out.bias"][:, None]], axis=1)
    dst = numpy_weights_path(src) if dst is None else Path(dst)
    tmp = dst.with_name(dst.stem + ".tmp.npz")
    np.savez(tmp, version=np.int64(NPZ_VERSION), n_mels=np.int64(m), source_sha256=np.str_(sha256_file(src)),
             w_in=w_in.astype(np.float32), g1=gates(grus[0], True).astype(np.float32),
             g2=gates(grus[1], False).astype(np.float32), w_out=w_out.astype(np.float32))
    tmp.replace(dst)
    return dst


def mel_band_hz(n_mels: int) -> np.ndarray:
    """Centre frequencies (Hz) of the features' mel bands."""
    import librosa

    from model.config import defaults

    cfg = defaults()["features"]
    return np.asarray(librosa.mel_frequencies(n_mels + 2, fmin=float(cfg["fmin"]), fmax=float(cfg["fmax"]))[1:-1])


def train_and_export(items: list[dict[str, Any]], *, out: Path, export: Path, minutes: float,
                     seed: int, hidden: int = 48, window: int = 200, batch: int = 16,
                     init: Path | None = None, lr: float = 3e-3, offbeat: float = 0.0,
                     offbeat_weight: float = 0.0, break_weight: float = 0.0) -> None:
    """Train on ``items`` (dicts with ``x`` [t, n_in] and ``y`` [t, 3]) for ``minutes``,
    keep the best validation checkpoint, export it to ``export``. ``offbeat``: share of the
    training windows that get synthetic off-beat percussion mixed in
    (``model.audio_augment.offbeat_percussion``). ``offbeat_weight``: the loss of the frames
    half a beat off (``offbeat_frames``) counts 1 + this much (against firing on the off-beat).
    ``break_weight``: the loss of the frames inside breaks (drums out; ``break_frames``) counts
    1 + this much (carry the pulse through, or stay quiet, instead of firing early)."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    items = [it for it in items if len(it["mel"]) > window + 2]
    order = rng.permutation(len(items))
    n_val = max(2, len(items) // 12)
    val = [items[i] for i in order[:n_val]]
    tr = [items[i] for i in order[n_val:]]
    m = tr[0]["mel"].shape[1]
    net = _torch_net(m, hidden)
    with torch.no_grad():
        xs = [net.inputs(torch.from_numpy(it["mel"][None, 1:]), torch.from_numpy(it["mel"][None, 0]))[0]
              for it in tr[:: max(1, len(tr) // 60)]]
        allx = torch.cat(xs)
        net.mean[:] = allx.mean(dim=0)
        net.std[:] = allx.std(dim=0) + 1e-3
    if init is not None:  # fine-tune: its weights and normalisation
        state = state_from_onnx(init) if Path(init).suffix == ".onnx" else torch.load(init)
        got = tuple(state["inp.weight"].shape) if "inp.weight" in state else None
        if got != tuple(net.inp.weight.shape):
            raise ValueError(f"--init {init} is not a beat net of {hidden} units over {m} mel bands "
                             f"(its input layer is {got}); pass the --hidden it was trained with")
        net.load_state_dict(state)
    if break_weight > 0.0:
        unmarked = sum(not it.get("has_sections", False) for it in tr)
        if unmarked:
            print(f"--break-weight: {unmarked} of {len(tr)} training songs have no break labels (the "
                  "synthetic songs, and mel caches written before the labels were kept: delete the "
                  "cache folder to rebuild them); their breaks count once", flush=True)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    lengths = np.array([len(it["mel"]) * (0.4 if str(it["name"]).startswith("synth") else 1.0)
                        for it in tr], float)  # real instruments weigh more than the synthesiser
    pick = lengths / lengths.sum()
    band_hz = mel_band_hz(m)

    def batch_xy() -> tuple[Any, Any, Any, Any]:
        xs = np.empty((batch, window + 1, m), np.float32)
        ys = np.empty((batch, window, CLASSES), np.float32)
        ws = np.ones((batch, window), np.float32)
        for b in range(batch):
            it = tr[int(rng.choice(len(tr), p=pick))]
            s = int(rng.integers(0, len(it["mel"]) - window - 1))
            x = it["mel"][s: s + window + 1].copy()
            if offbeat > 0.0 and rng.random() < offbeat:
                x = offbeat_percussion(x, start=s, fps=FPS_NET, beats=it["beats"], band_hz=band_hz, rng=rng)
            x += rng.uniform(-12, 12) + rng.uniform(-6, 6) * np.linspace(-1, 1, m)  # gain, tilt
            np.maximum(x, MEL_FLOOR_DB, out=x)
            xs[b] = x
            ys[b] = it["y"][s + 1: s + window + 1]
            if offbeat_weight > 0.0:
                if "offbeat" not in it:
                    it["offbeat"] = offbeat_frames(it["beats"], len(it["mel"]))
                ws[b] += offbeat_weight * it["offbeat"][s + 1: s + window + 1]
            if break_weight > 0.0 and "brk" in it:
                ws[b] += break_weight * it["brk"][s + 1: s + window + 1]
        x = torch.from_numpy(xs)
        return x[:, 1:], x[:, 0], torch.from_numpy(ys), torch.from_numpy(ws)

    def val_loss() -> float:
        net.eval()
        tot, cnt = 0.0, 0
        with torch.no_grad():
            for it in val:
                mel = torch.from_numpy(it["mel"][None])
                lg, _ = net(mel[:, 1:], mel[:, 0])
                lp = torch.log_softmax(lg, -1)[0]
                tot += float(-(torch.from_numpy(it["y"][1:]) * lp).sum())
                cnt += len(it["mel"]) - 1
        net.train()
        return tot / cnt

    t0 = time.time()
    best = math.inf
    step = 0
    ckpt = out / "best.pt"
    while time.time() - t0 < minutes * 60:
        x, x0, y, w = batch_xy()
        lg, _ = net(x, x0)
        loss = -((y * torch.log_softmax(lg, -1)).sum(-1) * w).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0:
            v = val_loss()
            if v < best:
                best = v
                torch.save(net.state_dict(), ckpt)
            print(f"step {step} train {float(loss.detach()):.4f} val {v:.4f} best {best:.4f} "
                  f"{time.time() - t0:.0f}s", flush=True)
        if step % 20 == 0 and time.time() - t0 > 0.6 * minutes * 60:
            for gparam in opt.param_groups:
                gparam["lr"] = lr / 3.0
    if ckpt.exists():
        net.load_state_dict(torch.load(ckpt))
    export_onnx(net, export, hidden, m)
    export_numpy(export)
    print(f"exported {export} and its numpy weights (best val {best:.4f}, {step} steps)", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/beats")
    ap.add_argument("--export", default="models/beats.onnx")
    ap.add_argument("--minutes", type=float, default=9.0, help="training time budget")
    ap.add_argument("--songs", type=int, default=160, help="synthetic songs (30 s each)")
    ap.add_argument("--corpus", default="data/beat_corpus/train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-only", action="store_true", help="build the data cache and stop")
    ap.add_argument("--extra", type=int, default=0,
                    help="render this many more corpus-like songs into the cache first")
    ap.add_argument("--extra-minutes", type=float, default=15.0, help="time limit of --extra")
    ap.add_argument("--extra-start", type=int, default=1000, help="first seed of --extra")
    ap.add_argument("--extra-genres", default="",
                    help="comma list: --extra renders only these genres (default: the corpus's mix)")
    ap.add_argument("--init", type=Path, default=None, help="checkpoint to fine-tune from")
    ap.add_argument("--lr", type=float, default=3e-3, help="learning rate (a third after 60 %%)")
    ap.add_argument("--offbeat", type=float, default=0.0,
                    help="share of training windows with synthetic off-beat percussion mixed in")
    ap.add_argument("--offbeat-weight", type=float, default=0.0,
                    help="extra loss weight of the frames half a beat off (against off-beat firing)")
    ap.add_argument("--break-weight", type=float, default=0.0,
                    help="extra loss weight of the frames inside breaks (drums out)")
    ap.add_argument("--hidden", type=int, default=48, help="GRU width (each of its two layers)")
    ap.add_argument("--window", type=int, default=200,
                    help="training window in 30 fps frames (the longest stretch back-propagated through)")
    ap.add_argument("--npz", type=Path, default=None, metavar="ONNX",
                    help="only write the numpy weights (.npz beside it) of this exported model")
    args = ap.parse_args(argv)
    if args.npz is not None:
        print(f"wrote {export_numpy(args.npz)}")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "synth.npz"
    t0 = time.time()
    if cache.exists():
        d = np.load(cache, allow_pickle=True)
        items = list(d["items"])
        for it in items:  # older caches hold the inputs; the mel is their first block
            if "mel" not in it:
                it["mel"] = np.ascontiguousarray(it.pop("x")[:, :64])
    else:
        items = synth_items(args.songs, 30.0, args.seed)
        print(f"synthetic: {len(items)} songs in {time.time() - t0:.0f} s", flush=True)
        np.savez(cache, items=np.array(items, dtype=object))
    try:
        return _build_and_train(args, items, out)
    except ValueError as e:  # a bad option or input: one line, no trace
        print(f"model.beat_train: {e}", file=sys.stderr)
        return 2


def _build_and_train(args: argparse.Namespace, items: list[dict[str, Any]], out: Path) -> int:
    """The rest of ``main``: extra songs, the corpus cache, then training (unless --data-only)."""
    if args.extra:
        genres = tuple(g for g in args.extra_genres.split(",") if g)
        extra_corpus(out / "corpus_mel", args.extra_start, args.extra, minutes=args.extra_minutes,
                     genres=genres)
    croot = Path(args.corpus)
    if croot.is_dir():
        corpus_items(croot, out / "corpus_mel")
    citems = cached_corpus_items(out / "corpus_mel")
    print(f"corpus: {len(citems)} files", flush=True)
    items = items + citems
    if args.data_only:
        return 0
    train_and_export(items, out=out, export=Path(args.export), minutes=args.minutes, seed=args.seed,
                     init=args.init, lr=args.lr, offbeat=args.offbeat,
                     offbeat_weight=args.offbeat_weight, hidden=args.hidden, window=args.window,
                     break_weight=args.break_weight)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
