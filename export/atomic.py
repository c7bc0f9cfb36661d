"""Write a model beside its destination and put it in place only once it has passed its checks.

``dancemuse export CKPT -o models/default.onnx`` used to write straight onto the shipped
model and check parity afterwards: a failed check left a broken model where the good one
was. Here the export writes a temporary file in the destination's folder (same file
system, so the final rename is atomic), the checks run on that file, and only then
``os.replace`` moves it over the old one; a failed check (or an exception, or Ctrl-C)
removes the temporary file and leaves the old model untouched::

    with CheckedOutput(out) as o:
        export_net(net, o.tmp, ...)
        if parity_ok(o.tmp):
            o.commit()          # os.replace(tmp, out)
    # not committed -> tmp removed, ``out`` as it was

``check_finite_weights(net, path)`` refuses a checkpoint whose weights hold NaN or inf.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from model.errors import ModelError


class CheckedOutput:
    """A temporary file beside ``out`` that replaces ``out`` only on :meth:`commit`."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        if self.out.is_dir():
            raise ModelError(f"output {self.out} is a folder; pass a file name such as {self.out / 'model.onnx'}")
        parent = self.out.parent
        if not parent.is_dir():
            raise ModelError(f"cannot write {self.out}: folder {parent} does not exist; create it first")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.out.name}.", suffix=".tmp", dir=parent)
        except OSError as e:
            raise ModelError(f"cannot write {self.out}: {e.strerror or e}; pick a writable folder") from None
        os.close(fd)
        self.tmp = Path(tmp)
        self.committed = False

    def commit(self) -> Path:
        """Move the checked temporary file onto ``out`` (atomic) and return ``out``."""
        os.replace(self.tmp, self.out)
        self.committed = True
        return self.out

    def discard(self) -> None:
        """Remove the temporary file (``out`` stays as it was)."""
        if not self.committed:
            with contextlib.suppress(OSError):
                self.tmp.unlink()

    def __enter__(self) -> CheckedOutput:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()


def check_finite_weights(net: Any, path: str | Path) -> None:
    """Raise ModelError (one line) if any parameter or buffer of ``net`` is NaN or infinite."""
    import torch

    bad: list[str] = []
    with torch.no_grad():
        for name, t in [*net.named_parameters(), *net.named_buffers()]:
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                bad.append(name)
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ModelError(f"checkpoint {path} holds NaN or infinite weights ({', '.join(bad[:3])}{more}); "
                         "training diverged: export an earlier checkpoint (e.g. best.pt) or retrain")
