"""The local executor (the default): a pool of worker processes on this machine."""

from __future__ import annotations

import os
from multiprocessing.connection import wait

from .base import RETRIES, EventSink, Executor, Job, check_workers
from .memory import MemoryCap, cap_bytes
from .slot import Slot


class LocalExecutor(Executor):
    """``workers`` worker processes (default: one per core), started when first needed and
    reused from job to job; one that timed out or died is replaced. ``memory_gb``: each
    worker's memory cap (GB, ``"share"`` of this machine's memory, or None: none)."""

    def __init__(
        self, workers: int | None = None, retries: int = RETRIES, memory_gb: MemoryCap = None
    ) -> None:
        check_workers(workers)
        super().__init__(workers or os.cpu_count() or 1, retries)
        self.memory_cap = cap_bytes(memory_gb, self.workers)
        self.idle: list[Slot] = []
        self.busy: dict[Slot, Job] = {}

    def running(self) -> int:
        return len(self.busy)

    def can_start(self) -> bool:
        return len(self.busy) < self.workers

    def start(self, job: Job) -> None:
        slot = self.idle.pop() if self.idle else Slot(memory_cap=self.memory_cap)
        slot.start(job.spec())
        self.busy[slot] = job

    def collect(self, timeout: float, on_event: EventSink) -> list[tuple[Job, str, dict]]:
        if self.busy:
            wait([s.conn for s in self.busy], timeout=timeout)
        ended = []
        for slot, job in list(self.busy.items()):
            outcome = slot.poll(on_event)
            if outcome is None:
                continue
            del self.busy[slot]
            if outcome[0] == "done":
                self.idle.append(slot)
            else:
                slot.stop(kill=True)
            ended.append((job, *outcome))
        return ended

    def close(self) -> None:
        for slot in self.idle:
            slot.stop()
        for slot in self.busy:
            slot.stop(kill=True)
        self.idle, self.busy = [], {}
