"""The Ray executor: the local executor's worker processes, one inside each actor of a Ray cluster.

Each actor (one CPU) keeps a :class:`~.slot.Slot` on its node, so a job runs, is capped and is
killed exactly as with the local executor; what Ray adds is placement across nodes and the news
that a node or an actor is gone, on which the job is run again elsewhere. This module imports
Ray only when a :class:`RayExecutor` is made (``pip install 'metail[ray]'``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from .base import RETRIES, EventSink, Executor, Job, check_workers, log
from .memory import MemoryCap, cap_bytes, check_memory_gb

INSTALL_HINT = (
    "the ray executor needs Ray, which is not installed here: "
    "pip install 'metail[ray]' (or pip install 'ray>=2.40')"
)
EVENTS_S = 1.0
"""How often the progress and log lines of running jobs are fetched from their actors."""
STALL_S = 600.0
"""How long jobs may wait with no actor placed before the run gives up (no free CPU at all)."""
START_FAILURES = 3
"""Actors that may fail to start in a row before the run gives up (metail missing on a node)."""


class Host:
    """A Ray actor holding one worker process on its node (Ray's unit of placement). Its
    memory cap is resolved on its node: a ``"share"`` is the node's memory per CPU."""

    def __init__(self, paths: Sequence[str], memory_gb: MemoryCap = None) -> None:
        extra = [p for p in paths if p not in sys.path and os.path.isdir(p)]
        sys.path[:0] = extra  # the caller's import paths that exist on this node
        self.memory_cap = cap_bytes(memory_gb, os.cpu_count() or 1)
        self.slot: Any = None
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def where(self) -> dict[str, Any]:
        """Where this actor runs (it answers once it is placed and started)."""
        import socket

        return {"host": socket.gethostname(), "pid": os.getpid()}

    def run(self, spec: dict[str, Any]) -> tuple[str, dict[str, Any], list[tuple[str, Any]]]:
        """Run a job in this node's worker process; returns (status, payload, late events)."""
        from .slot import Slot

        if self.slot is None or not self.slot.alive():
            self.slot = Slot(sys.path, self.memory_cap)
        status, payload = self.slot.run(spec, self._event)
        if status != "done":
            self.slot = None  # killed by run(); the next job gets a fresh worker
        return status, payload, self.drain()

    def drain(self) -> list[tuple[str, Any]]:
        """The events of the running job not fetched yet."""
        with self.lock:
            events, self.events = self.events, []
        return events

    def _event(self, kind: str, value: Any) -> None:
        with self.lock:
            self.events.append((kind, value))


def import_ray() -> Any:
    """``ray``, or a ValueError that says how to install it."""
    try:
        import ray
    except ImportError as e:
        raise ValueError(INSTALL_HINT) from e
    return ray


class RayExecutor(Executor):
    """``workers`` actors (default: every CPU of the cluster) on the cluster at ``address``
    (``host:port`` of its head, or ``"auto"``; default ``RAY_ADDRESS``, else a Ray started
    on this machine, stopped again by :meth:`close`). A Ray already initialised in this process
    is used as it is. ``memory_gb``: each worker's memory cap, resolved on its node."""

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        retries: int = RETRIES,
        memory_gb: MemoryCap = None,
    ) -> None:
        check_workers(workers)
        check_memory_gb(memory_gb)
        self.memory_gb = memory_gb
        self.ray = ray = import_ray()
        self.owns = not ray.is_initialized()
        if self.owns:
            address = address or os.environ.get("RAY_ADDRESS")
            kw: dict[str, Any] = {"logging_level": logging.WARNING}
            if address:
                try:
                    ray.init(address=address, **kw)
                except ConnectionError as e:  # a wrong address, or a token Ray wants
                    raise ValueError(f"cannot join the Ray cluster at {address!r}: {e}") from e
            else:  # "local": a new Ray, even if another one runs on this machine
                cpus = workers or os.cpu_count()
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, **kw)
        super().__init__(workers or max(1, int(ray.cluster_resources().get("CPU", 1))), retries)
        self.actor_cls = ray.remote(num_cpus=1, max_restarts=0, max_concurrency=2)(Host)
        self.paths = [os.path.abspath(p) for p in sys.path if p]
        self.starting: dict[Any, Any] = {}  # ref of where() -> actor not placed yet
        self.idle: list[Any] = []
        self.busy: dict[Any, tuple[Job, Any]] = {}  # ref of run() -> (job, actor)
        self.draining: dict[Any, Any] = {}  # ref of drain() -> actor
        self.last_drain = 0.0
        self.start_failures = 0
        self.stalled_since: float | None = None

    def running(self) -> int:
        return len(self.busy)

    def can_start(self) -> bool:
        while len(self.idle) + len(self.busy) + len(self.starting) < self.workers:
            actor = self.actor_cls.remote(self.paths, self.memory_gb)
            self.starting[actor.where.remote()] = actor
        return bool(self.idle)

    def start(self, job: Job) -> None:
        actor = self.idle.pop()
        self.busy[actor.run.remote(job.spec())] = (job, actor)

    def collect(self, timeout: float, on_event: EventSink) -> list[tuple[Job, str, dict]]:
        ray = self.ray
        self._check_stall()
        if time.monotonic() - self.last_drain > EVENTS_S:
            self.last_drain = time.monotonic()
            fetching = set(self.draining.values())
            for _, actor in self.busy.values():
                if actor not in fetching:
                    self.draining[actor.drain.remote()] = actor
        refs = [*self.busy, *self.starting, *self.draining]
        if not refs:
            return []
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        ended = []
        for ref in ready:
            if ref in self.starting:
                self._started(ref)
            elif ref in self.draining:
                self.draining.pop(ref)
                try:
                    events = ray.get(ref)
                except ray.exceptions.RayError:
                    continue  # the actor is gone; its run() says so
                for kind, value in events:
                    on_event(kind, value)
            else:
                ended.append(self._ended(ref, on_event))
        return ended

    def _started(self, ref: Any) -> None:
        actor = self.starting.pop(ref)
        try:
            where = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            self.start_failures += 1
            if self.start_failures >= START_FAILURES:
                raise RuntimeError(
                    f"Ray could not start a metail worker {self.start_failures} times in a row "
                    f"(is metail installed on every node?): {_first_line(e)}"
                ) from e
            log.warning("a Ray worker failed to start: %s", _first_line(e))
            return
        self.start_failures = 0
        log.debug("Ray worker ready on %s", where)
        self.idle.append(actor)

    def _ended(self, ref: Any, on_event: EventSink) -> tuple[Job, str, dict]:
        ray = self.ray
        job, actor = self.busy.pop(ref)
        try:
            status, payload, events = ray.get(ref)
        except ray.exceptions.RayTaskError as e:  # Host.run itself raised: not the job's fault
            self.idle.append(actor)
            return job, "done", {"ok": False, "error": f"the Ray worker failed: {_first_line(e)}"}
        except ray.exceptions.RayError as e:  # the actor, its process or its node is gone
            _kill(ray, actor)
            return job, "lost", {"ok": False, "error": f"Ray worker lost: {_first_line(e)}"}
        for kind, value in events:
            on_event(kind, value)
        self.idle.append(actor)
        return job, status, payload

    def _check_stall(self) -> None:
        if self.busy or self.idle or not self.queue:
            self.stalled_since = None
            return
        now = time.monotonic()
        self.stalled_since = self.stalled_since or now
        if now - self.stalled_since > STALL_S:
            raise RuntimeError(
                f"no Ray worker could be placed for {STALL_S:g} s: the cluster has no free CPU "
                "(see `ray status`)"
            )

    def close(self) -> None:
        for actor in [*self.idle, *self.starting.values(), *(a for _, a in self.busy.values())]:
            _kill(self.ray, actor)
        self.idle, self.starting, self.busy, self.draining = [], {}, {}, {}
        if self.owns and self.ray.is_initialized():
            self.ray.shutdown()


def _kill(ray: Any, actor: Any) -> None:
    try:
        ray.kill(actor, no_restart=True)
    except Exception:  # already gone
        pass


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"
