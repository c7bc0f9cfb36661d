"""bench/repeats.py: a dancer that dances one move over and over is all under the repetition line
and one that never comes back none of it, seed by seed, over music with a silent stretch; the
evaluation's runs of four seeds and the paired difference are read off the seeds; variants are
checked by the config schema."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from bench.repeats import LINE, Runs, dance_runs, mean_se, parse_variants, style_data, table
from model import metrics_songs as ms
from model import skeleton as sk
from model.errors import ConfigError

FPS = 30
SR = 8000


@dataclass
class _Danced:
    poses: np.ndarray


class _Dancer:
    """Two styles; seed 0 swings one arm with a 1-s period for the whole dance (every window has
    its twin a second or more later), seed 1 walks its joints through poses it never comes back to."""

    styles = ["a", "b"]
    fps = FPS

    def dance(self, song: ms.TestSong, *, style: str, seed: int, schedule: object = None) -> _Danced:
        n = int(song.seconds * FPS)
        p = np.repeat(sk.rest_pose()[None], n, axis=0).astype(np.float64)
        t = np.arange(n) / FPS
        if seed == 0:
            p[:, 9, 0] += 0.5 * np.sin(2 * np.pi * t)
        else:
            rng = np.random.default_rng(seed)
            p += np.cumsum(rng.normal(0, 0.03, p.shape), axis=0)  # a random walk: never back
        return _Danced(p)


def _music(seconds: float, silent: tuple[float, float] | None = None) -> ms.TestSong:
    t = np.arange(int(seconds * SR)) / SR
    a = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    if silent:
        a[int(silent[0] * SR): int(silent[1] * SR)] = 0.0
    return ms.TestSong(name="music", audio=a, sr=SR, kind="recording")


def test_a_repeated_move_is_under_the_line_and_a_new_one_is_not() -> None:
    long = _music(40.0, silent=(30.0, 40.0))  # the second piece (style b) is half silence
    runs = dance_runs(_Dancer(), [], long, [0, 1])
    assert [sorted(s) for s in runs.seeds] == [["a", "b"], ["a", "b"]]
    share = runs.per_seed_share()
    assert share[0] > 0.9 and share[1] < 0.05, share
    # silent windows are left out, as evaluate leaves them out: piece b keeps its first 10 s
    n_a, n_b = len(runs.seeds[0]["a"]), len(runs.seeds[0]["b"])
    assert n_b < n_a / 2, (n_a, n_b)
    assert runs.per_style()["a"] == pytest.approx(float((np.concatenate(
        [runs.seeds[0]["a"], runs.seeds[1]["a"]]) < LINE).mean()))


def test_the_evaluations_runs_and_the_paired_difference() -> None:
    def seed(share_low: float) -> dict[str, np.ndarray]:
        w = np.full(100, 0.5)
        w[: int(share_low * 100)] = 0.1
        return {"a": w}

    base = Runs(songs=[np.full(20, 0.6)], seeds=[seed(x) for x in (0.0, 0.1, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0)])
    better = Runs(songs=[np.full(20, 0.6)], seeds=[seed(x) for x in (0.0, 0.05, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0)])
    assert np.allclose(base.per_seed_share(), [0, 0.1, 0, 0, 0.2, 0, 0, 0])
    # as evaluate would report seeds 0-3 and 4-7: the test songs' windows in each
    (s0, low0), (s1, low1) = base.groups()
    assert s0 == pytest.approx(10 / 420) and s1 == pytest.approx(20 / 420)
    assert low0 == low1 == pytest.approx(0.1)
    m, se = mean_se(better.per_seed_share() - base.per_seed_share())
    assert m == pytest.approx(-0.01875) and se > 0
    out = table({"shipped": base, "better": better}, seeds=list(range(8)))
    assert "-1.88 +- " in out  # the paired difference in percentage points
    assert "0 of 2" in out  # neither run of four seeds has none under the line
    assert "2.38-4.76 %" in out  # the spread of evaluate's share over the runs
    assert "the same" in table({"shipped": base, "again": base}, seeds=list(range(8)))


def test_variants_are_checked_by_the_config_schema() -> None:
    assert parse_variants([["16 draws", "live.pick=16"]]) == [("16 draws", {"live.pick": 16})]
    with pytest.raises(ConfigError, match="needs a label"):
        parse_variants([["live.pick=16"]])
    with pytest.raises(ConfigError, match="--variant 'x': unknown config key 'live.no_such_key'"):
        parse_variants([["x", "live.no_such_key=1"]])


def test_each_column_can_be_judged_by_a_classifier_of_its_own_training_data() -> None:
    """`--data-for LABEL DIR ...` (session 62): a model trained on the wider vocabulary is judged by
    a classifier that learnt it, the shipped column beside it by one that learnt the shipped data."""
    cols = ["in effect", "shipped"]
    assert style_data(["d/v9", "d/mocap"], [["shipped", "d/v5", "d/mocap"]], cols) == {
        "in effect": ("d/v9", "d/mocap"), "shipped": ("d/v5", "d/mocap")}
    assert style_data(["d/v5"], [], cols) == {"in effect": ("d/v5",), "shipped": ("d/v5",)}
    assert style_data(None, [["shipped", "d/v5"]], cols) == {"shipped": ("d/v5",)}  # the other not judged
    assert style_data(None, [], cols) == {}
    with pytest.raises(ConfigError, match="--data-for 'shiped': no column of that label .*in effect, shipped"):
        style_data(None, [["shiped", "d/v5"]], cols)
    with pytest.raises(ConfigError, match="needs a column label and at least one training folder"):
        style_data(None, [["shipped"]], cols)


class _Classifier:
    """Recognises a piece as its style when it moves (the random walk of seed 1), not when it
    swings in place (seed 0); keeps the lengths it was given."""

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def accuracy(self, parts: dict[str, list[np.ndarray]]) -> dict[str, float]:
        out = {}
        for st, ds in parts.items():
            self.lengths += [len(d) for d in ds]
            out[st] = float(np.abs(np.diff(ds[0][:, 0, 0])).mean() > 0.01)
        return out


def test_style_is_recognised_per_seed_after_the_settling_seconds() -> None:
    from model.metrics_suite import SETTLE_S

    clf = _Classifier()
    runs = dance_runs(_Dancer(), [], _music(40.0), [0, 1, 1, 1], classifier=clf)
    # each piece of 20 s from its SETTLE_S on, as evaluate cuts it
    assert set(clf.lengths) == {int((20.0 - SETTLE_S) * FPS)}
    assert runs.style == [{"a": 0.0, "b": 0.0}] + [{"a": 1.0, "b": 1.0}] * 3
    assert runs.style_min() == pytest.approx(0.75)  # pooled over the seeds
    assert runs.style_groups() == [pytest.approx(0.75)]
    out = table({"x": runs}, seeds=[0, 1, 2, 3])
    assert "style recognised, long music, min" in out and "0.750" in out
    assert "worst single seed" in out and "0.000" in out
    assert "runs at 0.85 or more" in out and "0 of 1" in out  # evaluate's style line on seeds 0-3


def test_a_variant_with_model_path_dances_that_model(tmp_path, capsys) -> None:  # noqa: ANN001
    """`--variant LABEL model.path=...` dances another model beside the one in effect, on the same
    songs (session 52: two models compared on the same seeds); the bench names the variant's model."""
    pytest.importorskip("onnxruntime", reason="needs onnxruntime (the cpu extra): pip install -e \".[cpu]\"")
    import shutil

    import soundfile as sf

    from bench.repeats import main
    from live.runtime import resolve_model_path

    shipped = resolve_model_path(None)
    other = tmp_path / "other.onnx"  # the same weights under another name, its runners beside it
    shutil.copyfile(shipped, other)
    for side in shipped.parent.glob(f"{shipped.stem}_offline.npz"):
        shutil.copyfile(side, tmp_path / "other_offline.npz")
    sr = 22050
    t = np.arange(int(8.0 * sr)) / sr
    beat = (np.sin(2 * np.pi * 2.0 * t) > 0.95).astype(np.float32)  # clicks at 120 BPM over a tone
    sf.write(tmp_path / "song.wav", (0.3 * np.sin(2 * np.pi * 220 * t) + 0.5 * beat).astype(np.float32), sr)
    rc = main(["--songs", str(tmp_path / "song.wav"), "--seeds", "0",
               "--variant", "copy", f"model.path={other}", "--variant", "off", "live.pick=1"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"copy: model {other}" in out and "off: model" not in out
    head = next(line for line in out.splitlines() if "in effect" in line)
    assert head.split() == ["in", "effect", "copy", "off"]
    windows = next(line for line in out.splitlines() if line.startswith("windows")).split()[1:]
    assert windows[0] == windows[1] == windows[2] != "0"
    low = next(line for line in out.splitlines() if line.startswith("lowest window")).split()[3:]
    assert low[0] == low[1]  # the same weights dance the same windows
    assert main(["--songs", str(tmp_path / "song.wav"), "--seeds", "0",
                 "--variant", "gone", f"model.path={tmp_path / 'missing.onnx'}"]) == 2
    assert "missing.onnx" in capsys.readouterr().err
    assert main(["--songs", str(tmp_path / "song.wav"), "--seeds", "0", "--data-for", "copy", "data/x"]) == 2
    assert "error: --data-for 'copy': no column of that label (the columns: in effect, live.pick 1)" in \
        capsys.readouterr().err
