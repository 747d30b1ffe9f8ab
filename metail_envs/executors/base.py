"""A job, and what every executor does with it: queue it, run it, retry it if its worker died.

The executors differ only in where a worker process lives (:mod:`.local`: this machine;
:mod:`.ray_cluster`: a Ray cluster); the queue, the retry rule and the loop that yields finished
jobs are here, so a job gives the same payload whichever executor ran it.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("metail_envs.executors")

RETRIES = 2
"""Times a job whose worker died (crashed or killed process, lost node) is run again."""
POLL_S = 0.25
"""Longest wait for news before the loop checks caps and starts queued jobs again."""
RETRYABLE = ("died", "lost")
"""Outcomes of a job whose worker is gone: ``died``, the worker process ended during the job;
``lost``, the host of the worker (a Ray actor, a node) went away."""

EventSink = Callable[[str, Any], None]
"""Receives what a job reports while it runs: ``("tick", n)`` progress, ``("log", line)``."""


@dataclass
class Job:
    """One unit of work: a worker process calls ``fn(args, send)`` and returns a dict.

    ``fn`` is ``"package.module:function"``, imported in the worker (on whichever machine runs
    it). ``args`` is plain data: a mapping, or a frozen dataclass of builtins whose class the
    worker can import (it is sent as data, never as code). The function may ``send(("phase", name))`` to start a capped phase, ``send(("tick",
    n))`` to report progress (which restarts the current phase's cap) and ``send(("log",
    line))``. ``caps`` maps a phase to its wall-clock cap in seconds; ``"start"`` covers the
    time before the first phase and any phase not named. ``phases`` names a phase in the
    timeout message (``{"eval": "an act call"}``). ``tag`` is the caller's, never sent. A
    function that returns ``{"ok": False, "error": ...}`` fails its job without a traceback.
    """

    fn: str
    args: Any
    caps: Mapping[str, float] = field(default_factory=lambda: {"start": math.inf})
    phases: Mapping[str, str] = field(default_factory=dict)
    tag: Any = None
    attempts: int = 0

    def spec(self) -> dict[str, Any]:
        """What travels to the worker's host (everything but the caller's tag)."""
        return {
            "fn": self.fn,
            "args": dict(self.args) if isinstance(self.args, Mapping) else self.args,
            "caps": dict(self.caps),
            "phases": dict(self.phases),
        }


def check_workers(workers: Any) -> None:
    """Refuse anything but a positive int (``None`` means the executor's default)."""
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ValueError(f"workers={workers!r} is invalid; accepted: an integer >= 1")


class Executor(ABC):
    """A pool of ``workers`` worker processes that runs submitted jobs, first in first out.

    Use it as a context manager (``close`` stops every worker). ``as_completed`` runs the queue
    and yields ``(job, payload)`` as each job finishes; jobs may be submitted while iterating.
    ``payload["ok"]`` says whether the job's function returned; otherwise ``payload["error"]``
    says why not (it raised, ran past a cap, or its worker died on every attempt).
    """

    def __init__(self, workers: int, retries: int = RETRIES) -> None:
        check_workers(workers)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries={retries!r} is invalid; accepted: an integer >= 0")
        self.workers, self.retries = workers, retries
        self.queue: deque[Job] = deque()

    def submit(self, job: Job, first: bool = False) -> None:
        """Queue a job (at the front with ``first``: results the caller waits on)."""
        if first:
            self.queue.appendleft(job)
        else:
            self.queue.append(job)

    def as_completed(self, on_event: EventSink | None = None) -> Iterator[tuple[Job, dict]]:
        """Run the queued jobs, yielding each finished one, until nothing is queued or running."""
        sink = on_event or (lambda kind, value: None)
        while self.queue or self.running():
            self._fill()
            finished = []
            for job, status, payload in self.collect(POLL_S, sink):
                if status in RETRYABLE and job.attempts <= self.retries:
                    log.warning(
                        "%s; running the job again (attempt %d of %d)",
                        payload["error"],
                        job.attempts + 1,
                        self.retries + 1,
                    )
                    self.queue.appendleft(job)
                    continue
                if status in RETRYABLE and job.attempts > 1:
                    payload = {**payload, "error": f"{payload['error']} ({job.attempts} attempts)"}
                finished.append((job, payload))
            self._fill()  # the freed workers go on while the caller handles the results
            yield from finished

    def _fill(self) -> None:
        while self.queue and self.can_start():
            job = self.queue.popleft()
            job.attempts += 1
            self.start(job)

    def run_one(self, job: Job, on_event: EventSink | None = None) -> dict[str, Any]:
        """Run one job now (nothing else may be queued) and return its payload."""
        if self.queue or self.running():
            raise RuntimeError("run_one needs an idle executor")
        self.submit(job)
        return next(payload for _, payload in self.as_completed(on_event))

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def running(self) -> int:
        """Jobs in flight."""

    @abstractmethod
    def can_start(self) -> bool:
        """Whether a worker is free for the next job."""

    @abstractmethod
    def start(self, job: Job) -> None:
        """Send a job to a free worker."""

    @abstractmethod
    def collect(self, timeout: float, on_event: EventSink) -> list[tuple[Job, str, dict]]:
        """Wait up to ``timeout`` s; return the jobs that ended as ``(job, status, payload)``,
        status ``done``, ``timeout``, ``died`` or ``lost``."""

    @abstractmethod
    def close(self) -> None:
        """Stop every worker (killing those on a job)."""
