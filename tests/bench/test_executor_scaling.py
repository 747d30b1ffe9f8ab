"""Throughput of a full evaluation of the reference agents on each executor, 1 worker against 2.

A full evaluation (every test and ood task, K in {0, 1, 5}, 10 episodes of up to 1000 steps) of
``random`` and ``expert`` is timed, end to end (``evaluate`` with its executor's start and stop),
with 1 and 2 workers on the local executor and on Ray started for the run. The session summary
prints each executor's speed-up of 2 workers over 1, Ray against local at the same workers, and
the start-up of each executor (first job on a fresh pool), all measured in the same run.

Run: ``python -m pytest tests/bench/test_executor_scaling.py -m bench -s`` (``-s`` shows each
run's CPU time: where other processes hold the cores, the speed-up is bounded by the cores the
run got). ``METAIL_BENCH_SEEDS`` (default 5, the protocol's minimum) sets the seeds per agent;
``METAIL_BENCH_DATA`` a complete expert-data directory (default: tiny data over the whole suite
written here, whose untrained "expert" falls within tens of steps, so per-job overheads weigh
more than with the shipped experts).
"""

from __future__ import annotations

import itertools
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))  # raytools
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmark"))  # tinybench
from raytools import ray_or_skip  # noqa: E402  (sets Ray to loopback before it is imported)

from metail_envs.benchmark import evaluate  # noqa: E402
from metail_envs.benchmark.jobs import ProbeJob, executor_job  # noqa: E402
from metail_envs.executors import make_executor  # noqa: E402

AGENTS = ["random", "expert"]
SEEDS = int(os.environ.get("METAIL_BENCH_SEEDS", "5"))
COMPARISONS = [  # (group, reference run, candidate run): (executor, workers)
    ("local executor: 2 workers vs 1", ("local", 1), ("local", 2)),
    ("ray executor: 2 workers vs 1", ("ray", 1), ("ray", 2)),
    ("1 worker: ray vs local", ("local", 1), ("ray", 1)),
    ("2 workers: ray vs local", ("local", 2), ("ray", 2)),
]
_runs = itertools.count()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    if "METAIL_BENCH_DATA" in os.environ:
        return os.environ["METAIL_BENCH_DATA"]
    from tinybench import write_tiny_data

    return str(write_tiny_data(tmp_path_factory.mktemp("bench_data")))


def full_evaluation(out: Path, data_dir: str, executor: str, workers: int) -> None:
    """One full evaluation; prints its wall time and, locally, the CPU time of this process and
    of its workers: the cores the run really got (Ray's actors are not this process's children)."""
    start, cpu = time.perf_counter(), _cpu_s()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer seeds than the protocol's minimum
        paths = evaluate(
            AGENTS, out=out / str(next(_runs)), seeds=SEEDS, workers=workers, data_dir=data_dir,
            progress=False, executor=executor,
        )  # fmt: skip
    assert len(paths) == len(AGENTS) * SEEDS
    wall = time.perf_counter() - start
    own, children = (b - a for a, b in zip(cpu, _cpu_s()))
    line = f"\n{executor}, {workers} worker(s): {wall:.1f} s"
    if executor == "local":
        line += f"; CPU s: runner {own:.1f}, workers {children:.1f} ({(own + children) / wall:.2f} cores)"
    print(line)


def _cpu_s() -> tuple[float, float]:
    """User + system CPU seconds of this process, and of its children that have ended."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("executor", ["local", "ray"])
def test_full_evaluation(benchmark, record, tmp_path, data_dir, executor, workers):
    if executor == "ray":
        ray_or_skip()
    benchmark.pedantic(
        full_evaluation, args=(tmp_path, data_dir, executor, workers), rounds=1, iterations=1
    )
    for group, reference, candidate in COMPARISONS:
        if (executor, workers) in (reference, candidate):
            record(
                benchmark, group, "reference" if reference == (executor, workers) else "candidate"
            )


def first_job(executor: str) -> None:
    with make_executor(executor, workers=2) as pool:
        pool.run_one(executor_job(ProbeJob(spec="random")))


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_start_up(benchmark, record, executor):
    if executor == "ray":
        ray_or_skip()
    benchmark.pedantic(first_job, args=(executor,), rounds=3, iterations=1)
    record(benchmark, "start-up: first job on a fresh pool, ray vs local",
           "candidate" if executor == "ray" else "reference")  # fmt: skip
