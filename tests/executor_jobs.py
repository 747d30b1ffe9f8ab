"""Job functions for the executor tests, imported by worker processes as ``executor_jobs:<fn>``
(this directory is on the tests' ``sys.path``, which workers inherit)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any


def square(args: dict[str, Any], send: Any) -> dict[str, Any]:
    send(("log", f"squaring {args['x']}"))
    send(("tick", 1))
    return {"y": args["x"] ** 2, "pid": os.getpid()}


def fail(args: dict[str, Any], send: Any) -> dict[str, Any]:
    raise ValueError(f"failed on purpose with {args['x']}")


def hang(args: dict[str, Any], send: Any) -> dict[str, Any]:
    send(("phase", "work"))
    time.sleep(3600)
    return {}


def die_until(args: dict[str, Any], send: Any) -> dict[str, Any]:
    """Kill this worker process (SIGKILL, as a lost machine would) on the first ``args["deaths"]``
    attempts, counted in the file ``args["counter"]``; succeed afterwards."""
    counter = Path(args["counter"])
    deaths = int(counter.read_text()) if counter.exists() else 0
    if deaths < args["deaths"]:
        counter.write_text(str(deaths + 1))
        os.kill(os.getpid(), signal.SIGKILL)
    return {"attempt": deaths + 1}
