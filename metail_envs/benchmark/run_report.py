"""What an evaluation tells its user besides the result files: one line per finished stage where
progress bars would not show (a log file, a pipe), and the failed jobs of each agent, summarised
as the first error of each kind.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metail_envs.executors import Executor, Job
from metail_envs.executors.base import EventSink

from .jobs import AgentJob, EvaluateJob, MetaTrainJob
from .results import read_result


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class StageLog(Executor):
    """Runs its jobs on ``inner`` and writes one line when a stage of an evaluation ends: the
    meta-training of an (agent, seed), then all of its evaluation jobs. Closing it closes
    ``inner``."""

    def __init__(self, inner: Executor, write: Callable[[str], None] = _stderr) -> None:
        super().__init__(inner.workers, inner.retries)
        self.inner, self.write = inner, write
        self.queue = inner.queue  # one queue: the inner executor may look at it
        self.pending: Counter[tuple[str, int]] = Counter()
        self.failed: Counter[tuple[str, int]] = Counter()
        self.done: Counter[tuple[str, int]] = Counter()
        self.started = time.monotonic()

    @staticmethod
    def _key(job: Job) -> tuple[str, int] | None:
        if not isinstance(job.args, AgentJob):
            return None
        return str(job.args.agent.name), job.args.seed

    def submit(self, job: Job, first: bool = False) -> None:
        key = self._key(job)
        if key is not None and isinstance(job.args, EvaluateJob):
            self.pending[key] += 1
        super().submit(job, first)

    def as_completed(self, on_event: EventSink | None = None) -> Iterator[tuple[Job, dict]]:
        for job, payload in super().as_completed(on_event):
            self._report(job, payload)
            yield job, payload

    def _report(self, job: Job, payload: dict[str, Any]) -> None:
        key = self._key(job)
        if key is None:
            return
        elapsed = time.monotonic() - self.started
        head = f"[{int(elapsed) // 60:3d}:{int(elapsed) % 60:02d}] {key[0]} seed {key[1]}:"
        if isinstance(job.args, MetaTrainJob):
            if payload["ok"]:
                self.write(f"{head} meta-trained in {payload.get('time_s', 0.0):.1f} s")
            else:
                self.write(f"{head} meta-training failed: {first_line(payload['error'])}")
            return
        self.pending[key] -= 1
        self.done[key] += 1
        self.failed[key] += not payload["ok"]
        if self.pending[key] == 0:
            self.write(f"{head} {self.done[key]} evaluation jobs done, {self.failed[key]} failed")

    def running(self) -> int:
        return self.inner.running()

    def can_start(self) -> bool:
        return self.inner.can_start()

    def start(self, job: Job) -> None:
        self.inner.start(job)

    def collect(self, timeout: float, on_event: EventSink) -> list[tuple[Job, str, dict]]:
        return self.inner.collect(timeout, on_event)

    def close(self) -> None:
        self.inner.close()


def first_line(error: str) -> str:
    """The ``Type: message`` line of an error as the workers record it."""
    return (error or "").strip().splitlines()[0] if (error or "").strip() else "(no message)"


def error_kind(error: str) -> str:
    """What groups errors: the text before the first ``": "`` (an exception type, ``timed
    out``), or the whole first line."""
    return first_line(error).split(": ", 1)[0]


def _innermost_frame(error: str) -> str | None:
    frames = [ln.strip() for ln in (error or "").splitlines() if ln.strip().startswith("File ")]
    return frames[-1] if frames else None


@dataclass
class AgentFailures:
    """The evaluation jobs of one agent over its result files, and its first error of each kind
    (``{"phase: kind": "where: error"}``, phase ``meta-training`` or ``evaluation``)."""

    agent: str
    jobs: int = 0
    failed: int = 0
    first: dict[str, str] = field(default_factory=dict)

    @property
    def all_failed(self) -> bool:
        return self.jobs > 0 and self.failed == self.jobs

    def _add(self, phase: str, where: str, error: str) -> None:
        kind = f"{phase}: {error_kind(error)}"
        if kind not in self.first:
            frame = _innermost_frame(error)
            text = f"{where}: {first_line(error)}"
            self.first[kind] = f"{text}\n    {frame}" if frame else text

    def lines(self) -> list[str]:
        """The first error of each kind, indented, one or two lines each."""
        return [f"  {text}" for text in self.first.values()]


def agent_failures(paths: Iterable[str | Path]) -> dict[str, AgentFailures]:
    """Failures per agent name, read from result files (of :func:`evaluate`)."""
    out: dict[str, AgentFailures] = {}
    for path in paths:
        doc = read_result(Path(path))
        name = str(doc["agent"]["name"])
        f = out.setdefault(name, AgentFailures(name))
        meta = doc["meta_train"]
        if meta["status"] == "failed":
            f._add("meta-training", f"seed {doc['seed']}, meta-training", meta["error"])
        for job in doc["jobs"]:
            f.jobs += 1
            if job["status"] == "ok":
                continue
            f.failed += 1
            if not str(job["error"]).startswith("meta-training failed: "):
                where = f"seed {doc['seed']}, {job['task']} K={job['k']}"
                f._add("evaluation", where, str(job["error"]))
    return out
