"""The worker process: receives jobs over a socket, runs them, sends back one ``done`` each.

Everything a job does happens here, never in the process that schedules it, so a job that
raises, hangs or crashes the interpreter costs one job: the slot watching this process records
the error, kills it if it must, and starts another. Messages to the slot: what the job sends
(``("phase", name)``, ``("tick", n)``, ``("log", line)``) and a final ``("done", payload)``,
``payload["ok"]`` False with ``payload["error"]`` if the job raised.
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from .memory import apply_cap, describe, is_memory_error

_ERROR_CHARS = 2000


def format_error(e: BaseException) -> str:
    """``Type: message`` and the innermost frames of the traceback, kept short."""
    head = f"{type(e).__name__}: {e}"
    frames = "".join(traceback.format_tb(e.__traceback__, limit=-3))
    text = f"{head}\n{frames}".strip()
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def resolve(fn: str) -> Callable[[dict[str, Any], Callable[[Any], None]], dict[str, Any]]:
    """The function a job names as ``"package.module:function"``."""
    module, _, name = fn.partition(":")
    return getattr(importlib.import_module(module), name)


def _limit_threads() -> None:
    """One thread per worker: the pool is the parallelism, threads would only contend."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def _exit_with_parent() -> None:
    """Exit when the process that started this one is gone, so that no worker is left behind."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main(fd: int, memory_cap: int = 0) -> None:
    """Entry point of a worker started by a :class:`~.slot.Slot` with one end of a socket pair;
    ``memory_cap``: this process's memory cap in bytes (0: none)."""
    _exit_with_parent()
    serve(Connection(fd), memory_cap or None)


def serve(conn: Connection, memory_cap: int | None = None) -> None:
    """Serve jobs until the socket closes; every job ends with exactly one ``done`` message.
    ``memory_cap`` (bytes) is applied to this process first (:mod:`.memory`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scheduling process's to handle
    _limit_threads()
    apply_cap(memory_cap)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            payload = {"ok": True, **resolve(job["fn"])(job["args"], conn.send)}
        except BaseException as e:  # third-party code may raise anything, SystemExit included
            error = format_error(e)
            if memory_cap is not None and is_memory_error(e):
                error = f"out of memory: the job needed more than {describe(memory_cap)}\n{error}"
            payload = {"ok": False, "error": error}
        conn.send(("done", payload))
