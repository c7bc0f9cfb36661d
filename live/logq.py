"""Logging that never blocks the caller: records go through a bounded queue to a writer thread.

A show writes its log to stderr, and stderr may be a pipe that its reader empties slowly
or never (a process manager, a remote terminal, ``| grep``). Written synchronously, one
full 64 KiB pipe buffer stops the event loop: no frame, no OSC, no ``/status``. Here the
caller only formats the record and puts it in a bounded queue (``put_nowait``); a daemon
thread writes it. When the queue is full the line is dropped and counted, and the writer
says how many were dropped once it can write again. Usage::

    handler = install(level=logging.INFO)      # replaces the root logger's handlers
    ...
    handler.dropped                            # lines dropped so far
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATEFMT = "%H:%M:%S"
QUEUE_SIZE = 1000
"""Log records held before new ones are dropped."""


WRITER_THREAD = "dancemuse-log"
"""Name of the log writer thread (``live.engine.can_fork`` accepts it beside the main one)."""


class DroppingQueueHandler(logging.Handler):
    """A handler whose ``emit`` never waits: a full queue drops the record and counts it.

    ``target`` (default: a StreamHandler on ``stream``) is called from one daemon writer
    thread. ``close`` waits at most ``close_timeout`` seconds for the queue to drain.
    """

    def __init__(
        self,
        target: logging.Handler | None = None,
        *,
        stream: TextIO | None = None,
        maxsize: int = QUEUE_SIZE,
        close_timeout: float = 1.0,
    ) -> None:
        super().__init__()
        if target is None:
            target = logging.StreamHandler(stream if stream is not None else sys.stderr)
            target.setFormatter(logging.Formatter(FORMAT, DATEFMT))
        self.target = target
        self.close_timeout = close_timeout
        self.dropped = 0
        self._reported = 0
        self._queue: queue.Queue[logging.LogRecord | None] = queue.Queue(maxsize=max(1, maxsize))
        self._thread = threading.Thread(target=self._write_loop, name=WRITER_THREAD, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ caller side
    def emit(self, record: logging.LogRecord) -> None:
        try:
            # Format now (arguments may change later) but keep it cheap: the writer formats the line.
            record.msg = record.getMessage()
            record.args = None
            if record.exc_info:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
                record.exc_info = None
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
        except Exception:  # pragma: no cover - logging must never raise into the caller
            self.handleError(record)

    # ------------------------------------------------------------------ writer side
    def _write_loop(self) -> None:
        while True:
            record = self._queue.get()
            try:
                if record is None:
                    return
                dropped = self.dropped
                if dropped > self._reported:
                    note = logging.LogRecord("dancemuse.log", logging.WARNING, __file__, 0,
                                             "%d log lines dropped (log output was blocked)",
                                             (dropped - self._reported,), None)
                    self._reported = dropped
                    self.target.handle(note)
                if not getattr(record, "drop_note", False):
                    self.target.handle(record)
            except Exception:  # pragma: no cover - a broken stream must not kill the writer
                pass
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait (at most ``close_timeout`` s) until the queued lines (and the count of
        dropped ones) are written."""
        if self.dropped > self._reported:
            marker = logging.LogRecord("dancemuse.log", logging.DEBUG, __file__, 0, "", None, None)
            marker.drop_note = True
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(marker)
        deadline = time.monotonic() + self.close_timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.01)
        with contextlib.suppress(Exception):
            self.target.flush()

    def close(self) -> None:
        self.flush()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=0.1)
        super().close()


def install(level: int = logging.INFO, *, stream: TextIO | None = None, maxsize: int = QUEUE_SIZE,
            force: bool = False) -> DroppingQueueHandler | None:
    """Give the root logger a DroppingQueueHandler (like ``logging.basicConfig``: only when it
    has no handler yet, unless ``force``) and set its level. Returns the handler in place,
    or None when another handler (pytest's capture, an embedding application) was kept."""
    root = logging.getLogger()
    root.setLevel(level)
    for h in root.handlers:
        if isinstance(h, DroppingQueueHandler):
            return h
    if root.handlers and not force:
        return None
    handler = DroppingQueueHandler(stream=stream, maxsize=maxsize)
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    return handler
