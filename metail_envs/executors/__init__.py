"""Executors: where jobs run. ``local`` (the default) is a pool of worker processes on this
machine, nothing to start; ``ray`` is the same pool as actors of a Ray cluster, joined or started
on this machine (``pip install 'metail[ray]'``).

A :class:`Job` names a function that a worker process calls; the executor enforces the job's
time caps, kills and replaces a worker that hangs, runs again a job whose worker died (a killed
process, a lost node) up to ``retries`` times, and yields each job's payload as it finishes.
``metail evaluate`` and the expert pipeline both run on it, so their jobs, results and files
are the same whichever executor ran them. Nothing here imports Ray unless ``ray`` is asked for.
"""

from __future__ import annotations

import argparse

from .base import RETRIES, Executor, Job, check_workers
from .local import LocalExecutor
from .memory import SHARE, MemoryCap, check_memory_gb

EXECUTORS = ("local", "ray")

__all__ = [
    "EXECUTORS",
    "RETRIES",
    "Executor",
    "Job",
    "LocalExecutor",
    "SHARE",
    "add_memory_argument",
    "check_memory_gb",
    "add_executor_arguments",
    "check_workers",
    "make_executor",
]


def make_executor(
    kind: str = "local",
    workers: int | None = None,
    address: str | None = None,
    retries: int = RETRIES,
    memory_gb: MemoryCap = None,
) -> Executor:
    """An executor by name: ``"local"`` or ``"ray"`` (``address``: a running cluster to join,
    ``"auto"`` for the one on this machine; none starts a local Ray). ``workers``: parallel
    workers (default: all cores of this machine, or all CPUs of the cluster); ``memory_gb``:
    each worker's memory cap in GB, ``"share"`` (of its machine's memory) or None (none)."""
    check_workers(workers)
    check_memory_gb(memory_gb)
    if kind == "local":
        if address is not None:
            raise ValueError("a Ray address needs executor='ray' (--executor ray)")
        return LocalExecutor(workers, retries, memory_gb)
    if kind == "ray":
        from .ray_cluster import RayExecutor

        return RayExecutor(workers, address, retries, memory_gb)
    raise ValueError(f"executor={kind!r} is invalid; accepted: {', '.join(EXECUTORS)}")


def add_executor_arguments(p: argparse.ArgumentParser, workers_help: str) -> None:
    """``--executor``, ``--ray-address``, ``--workers`` and ``--retries``, the same everywhere."""
    g = p.add_argument_group("where jobs run")
    g.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local worker processes or a Ray cluster (pip install 'metail[ray]'; default "
        "%(default)s)",
    )
    g.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster to join (HEAD_IP:PORT, or 'auto' for the one `ray start` runs on this "
        "machine); default RAY_ADDRESS, else a Ray started for this run",
    )
    g.add_argument("--workers", type=int, help=workers_help)
    g.add_argument(
        "--retries",
        type=int,
        default=RETRIES,
        help="times a job whose worker died is run again (default %(default)s)",
    )


def add_memory_argument(p: argparse.ArgumentParser) -> None:
    """``--max-memory-gb``: each worker's memory cap (default: a share of the machine)."""
    p.add_argument(
        "--max-memory-gb",
        type=float,
        metavar="GB",
        help="memory cap of each worker process: a job that needs more fails alone (default: "
        "80%% of the machine's memory / workers; inf: no cap)",
    )
