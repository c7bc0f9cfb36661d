"""The beat activation network over a whole sequence of frames in one onnxruntime call.

``models/beats.onnx`` (model/beat_act.py) is exported for one 30 fps frame per call. Its
graph is sequence-generic already (the positive mel difference is taken against the frame
before, the GRUs run over the time axis); only the declared shapes of ``mel`` and ``p``
fix the time axis to 1. This writes a copy with that axis free (``T``) and the SHA-256 of
the source file in its metadata (``dancemuse_beats_source_sha256``), so that offline
feature extraction (model/features.py, whole songs) runs the network once per batch of
frames instead of once per frame, and refuses the copy when beats.onnx has changed.

    python -m export.beats_seq [--src models/beats.onnx] [--out models/beats_seq.onnx]

Run it after every new beats.onnx (``make beats-model``). Needs the ``onnx`` package
(train extra); the live server and ``generate`` only read the result.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "models" / "beats.onnx"
OUT = ROOT / "models" / "beats_seq.onnx"
META_KEY = "dancemuse_beats_source_sha256"


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_sequence_model(src: str | Path = SRC, out: str | Path = OUT) -> Path:
    """Write the free-time-axis copy of ``src`` to ``out`` (atomic); returns ``out``."""
    import onnx

    from export.onnx_export import write_model

    model = onnx.load(str(src))
    done = set()
    for vi in [*model.graph.input, *model.graph.output]:
        if vi.name in ("mel", "p"):
            dim = vi.type.tensor_type.shape.dim[1]
            dim.Clear()
            dim.dim_param = "T"
            done.add(vi.name)
    if done != {"mel", "p"}:
        raise SystemExit(f"{src} has no 'mel' input or 'p' output; is it a DanceMuse beat activation model?")
    onnx.checker.check_model(model)
    props = {p.key: p.value for p in model.metadata_props}
    props[META_KEY] = sha256_file(src)
    onnx.helper.set_model_props(model, props)
    dst = Path(out)
    write_model(model, dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=str(SRC))
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args(argv)
    print(f"wrote {make_sequence_model(a.src, a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
