"""One worker process and the job it is on: start it, watch its caps, tell how the job ended.

A slot is what both executors are made of: the local executor keeps its slots in this process,
the Ray executor keeps one in each of its actors. The worker is a fresh interpreter started with
``subprocess`` rather than ``multiprocessing``, so that the caller's ``__main__`` is never
re-imported (scripts need no ``if __name__ == "__main__"`` guard); it talks over a socket pair.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from .memory import describe

GRACE_S = 2.0
"""Slack over a cap before a worker is killed (a job may enforce its exact cap itself)."""

_BOOT = (
    "import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
    "from metail_envs.executors.worker import main; main(int(sys.argv[2]), int(sys.argv[3]))"
)

Outcome = tuple[str, dict[str, Any]]
"""``(status, payload)``: status ``done`` (the job's own payload), ``timeout`` or ``died``."""


class Slot:
    """A worker process, the job it is on, its phase and the deadline of that phase.
    ``memory_cap``: the worker's memory cap in bytes (None: none), see :mod:`.memory`."""

    def __init__(self, paths: Sequence[str] | None = None, memory_cap: int | None = None) -> None:
        mine, theirs = socket.socketpair()
        path = json.dumps([p for p in (sys.path if paths is None else paths) if p])
        self.memory_cap = memory_cap
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, path, str(theirs.fileno()), str(memory_cap or 0)],
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self.conn = Connection(mine.detach())
        self.spec: dict[str, Any] | None = None
        self.phase = "start"
        self.cap = math.inf
        self.deadline = math.inf

    def start(self, spec: dict[str, Any]) -> None:
        """Send a job (:meth:`Job.spec`) to the worker."""
        self.spec, self.phase = spec, "start"
        self._set_cap()
        self.conn.send({"fn": spec["fn"], "args": spec["args"]})

    def _set_cap(self) -> None:
        assert self.spec is not None
        caps = self.spec["caps"]
        self.cap = caps.get(self.phase, caps.get("start", math.inf))
        self.deadline = time.monotonic() + self.cap + GRACE_S

    def poll(self, on_event: Callable[[str, Any], None]) -> Outcome | None:
        """Read what the worker sent; return the outcome if the job ended, else None."""
        assert self.spec is not None
        gone = False
        try:
            while self.conn.poll():
                kind, value = self.conn.recv()
                if kind == "done":
                    self.spec = None
                    return "done", value
                if kind == "phase":
                    self.phase = value
                    self._set_cap()
                    continue
                if kind == "tick":
                    self._set_cap()
                on_event(kind, value)
        except (EOFError, OSError):
            gone = True  # the worker's end of the socket closed: it is exiting
        if gone or self.proc.poll() is not None:
            code = self._reap()
            error = f"worker process died (exit code {code}) during {self.phase}"
            if self.memory_cap is not None:
                error += f" ({describe(self.memory_cap)} was in force)"
            return "died", {"ok": False, "error": error}
        if time.monotonic() > self.deadline:
            what = self.spec["phases"].get(self.phase, self.phase)
            error = f"timed out: {what} ran past its {self.cap:g} s cap; the worker was killed"
            return "timeout", {"ok": False, "error": error}
        return None

    def run(self, spec: dict[str, Any], on_event: Callable[[str, Any], None]) -> Outcome:
        """Run one job to its end (blocking); a worker that timed out or died is stopped."""
        self.start(spec)
        while True:
            self.conn.poll(0.25)
            outcome = self.poll(on_event)
            if outcome is not None:
                if outcome[0] != "done":
                    self.stop(kill=True)
                return outcome

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.conn.closed

    def _reap(self) -> int:
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def stop(self, kill: bool = False) -> None:
        """End the worker: ask it to exit, or kill it (a worker on a job is always killed)."""
        if not self.conn.closed and not kill:
            try:
                self.conn.send(None)
            except OSError:
                kill = True
        if kill and self.proc.poll() is None:
            self.proc.kill()
        self._reap()
        if not self.conn.closed:
            self.conn.close()
