"""Start-up benchmark of `dancemuse live`: time to the page, to /status, to the first frame,
peak RSS, and how fast SIGTERM stops it, next to a bare ``import numpy, onnxruntime``.

    python bench/startup.py [--runs 3] [--model models/default.onnx]
    dancemuse bench startup

Each run starts ``python -m live.cli live --input demo`` in a fresh process with a free web
port and an OSC target on this process, then measures from the spawn:

- page: the first answer of ``GET /`` (the visualizer), /status: its first answer (during
  warm-up it says ``warming up``), first frame: the first OSC datagram;
- the peak RSS of the child (``ru_maxrss`` of the reaped process);
- SIGTERM: sent during warm-up (right after /status first answers) in one run, and after the
  first frame in another; the time until the process has exited.

``old`` is the same command with librosa imported and its filters built before start-up
(what start-up cost before the numpy filterbanks) and the onnxruntime step; ``onnx`` the
command as it is with ``--set model.runtime=onnx``; ``new`` the command as it is (the
numpy step, which does not import onnxruntime); ``file`` the command as it is playing the
demo song from a WAV file (what a show with its own music pays: no demo song at all).
The project's packages are byte-compiled first, as an install does (``--no-compile``: not).
Prints; asserts nothing. Timings on a shared machine: compare the columns, not the numbers.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OLD_PRELUDE = ("import librosa, librosa.filters; librosa.filters.mel(sr=24000, n_fft=2048, n_mels=64, "
               "fmin=30.0, fmax=11000.0); librosa.filters.chroma(sr=24000, n_fft=2048); ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=0.2) as r:
            return r.read(2000).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - not up yet
        return None


def _peak_rss_mb(pid: int) -> float:
    """Peak RSS so far of a live process (Linux VmHWM), MB; NaN where unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _song_file() -> str:
    """The demo song written once as a WAV file (for the ``file`` row: `dancemuse live`
    playing a file, as a show with its own music does, without synthesising the demo)."""
    import tempfile

    import soundfile as sf

    sys.path.insert(0, str(REPO))
    from model.synth_music import demo_song

    song = demo_song(seconds=64.0, seed=0)
    path = Path(tempfile.mkdtemp()) / "song.wav"
    sf.write(str(path), song.audio, song.sample_rate)
    return str(path)


def compile_project() -> None:
    """Byte-compile the packages `dancemuse live` imports, as an install does (pip compiles a
    wheel's modules; numpy and onnxruntime in the bare import are compiled too). Without it a
    shell with PYTHONDONTWRITEBYTECODE set recompiles every changed module on every start
    (~0.1-0.3 s here), which is not what a DJ's installed copy pays."""
    import compileall

    for pkg in ("live", "model", "export"):
        compileall.compile_dir(str(REPO / pkg), quiet=1)
    print("byte-compiled live/, model/, export/ first (as an install does; --no-compile to skip)")


def bare_import_s(runs: int) -> float:
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, onnxruntime"], check=True)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def one_run(*, old: bool, model: str, term: str, timeout: float = 120.0, extra: tuple[str, ...] = (),
            source: str = "demo") -> dict[str, float]:
    """Spawn `dancemuse live`, time the page, /status, first frame and the SIGTERM exit.
    term: "warmup" (SIGTERM as soon as /status answers), "frame" (after the first frame).
    extra: more command-line arguments (e.g. ``--set model.runtime=onnx``)."""
    port = _free_port()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    args = ["live", "--input", source, "--port", str(port), "--osc-listen", "",
            "--osc-target", f"127.0.0.1:{rx.getsockname()[1]}", "--model", model, *extra]
    code = ("import sys; " + (OLD_PRELUDE if old else "") +
            f"from live.cli import main; sys.exit(main({args!r}))")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    res = {"page": float("nan"), "status": float("nan"), "first_frame": float("nan"),
           "warming_seen": 0.0, "term_exit": float("nan"), "rss": float("nan")}
    base = f"http://127.0.0.1:{port}"
    try:
        while time.perf_counter() - t0 < timeout and proc.poll() is None:
            now = time.perf_counter() - t0
            if res["status"] != res["status"]:
                st = _get(base + "/status")
                if st is not None:
                    res["status"] = now
                    res["warming_seen"] = 1.0 if "warming" in st else 0.0
                    if term == "warmup":
                        break
            if res["page"] != res["page"] and _get(base + "/") is not None:
                res["page"] = time.perf_counter() - t0
            try:
                rx.recv(65536)
                res["first_frame"] = time.perf_counter() - t0
                if term == "frame":
                    break
            except BlockingIOError:
                pass
            time.sleep(0.005)
        if term == "frame":  # the show runs: let it settle a second, then read its peak RSS
            time.sleep(1.0)
            res["rss"] = _peak_rss_mb(proc.pid)
        t1 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
            res["term_exit"] = time.perf_counter() - t1
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    finally:
        rx.close()
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--model", default=str(REPO / "models" / "default.onnx"))
    ap.add_argument("--no-compile", action="store_true",
                    help="do not byte-compile the project's packages first (start-up then includes compiling "
                         "every changed module, as on a checkout with PYTHONDONTWRITEBYTECODE set)")
    a = ap.parse_args(argv)
    if not a.no_compile:
        compile_project()
    bare = bare_import_s(a.runs)
    print(f"bare `import numpy, onnxruntime`: {bare:.2f} s (median of {a.runs}); 'x bare' is the median over runs "
          "of each first frame over a bare import timed just before it")
    print(f"{'path':>4} {'page s':>7} {'/status s':>9} {'warming':>8} {'1st frame s':>11} {'x bare':>7} "
          f"{'TERM@frame s':>12} {'TERM@warmup s':>13} {'peak RSS MB':>11}")
    # old: librosa filters built at start (before the numpy filterbanks), onnxruntime step;
    # onnx: today's start-up with the onnxruntime step; new: as it is (the numpy step)
    wav = _song_file()
    rows = (("old", True, ("--set", "model.runtime=onnx"), "demo"),
            ("onnx", False, ("--set", "model.runtime=onnx"), "demo"), ("new", False, (), "demo"),
            ("file", False, (), wav))
    for label, old, extra, source in rows:
        frame_runs = []
        for _ in range(a.runs):  # each run right after a bare import of its own: the ratio per run
            b = bare_import_s(1)  # holds when the machine's speed drifts between runs
            r = one_run(old=old, model=a.model, term="frame", extra=extra, source=source)
            r["ratio"] = r["first_frame"] / b
            frame_runs.append(r)
        rss = max(r["rss"] for r in frame_runs)
        warm = one_run(old=old, model=a.model, term="warmup", extra=extra, source=source)

        def med(k: str, runs: list[dict[str, float]] = frame_runs) -> float:
            return statistics.median(r[k] for r in runs)

        first = med("first_frame")
        print(f"{label:>4} {med('page'):>7.2f} {med('status'):>9.2f} "
              f"{'yes' if warm['warming_seen'] else 'no':>8} {first:>11.2f} {med('ratio'):>7.1f} "
              f"{med('term_exit'):>12.2f} {warm['term_exit']:>13.2f} {rss:>11.0f}")
    print("rows: old/onnx/new play --input demo (the demo song: rendered on the first start, then read from "
          "the cache); file plays the same song from a WAV file (new path)")
    print("targets: first frame <= 3x bare import; SIGTERM exit <= 1 s at any moment; page and /status "
          "answer during warm-up; peak RSS (VmHWM, 1 s into the show) <= 160 MB.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
