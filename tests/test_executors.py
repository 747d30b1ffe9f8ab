"""The executors on real worker processes: payloads, errors, caps, retries of dead workers, and
the promise that nothing imports Ray unless asked (the Ray runs are in tests/benchmark and
tests/test_data.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metail_envs.executors import Job, LocalExecutor, make_executor


def job(fn: str, tag: object = None, **args: object) -> Job:
    return Job(f"executor_jobs:{fn}", args, tag=tag)


def test_jobs_give_their_payloads_and_errors_and_events() -> None:
    events: list[tuple[str, object]] = []
    with LocalExecutor(2) as pool:
        for x in range(4):
            pool.submit(job("square", x, x=x))
        pool.submit(job("fail", "bad", x=7))
        done = {j.tag: p for j, p in pool.as_completed(lambda *e: events.append(e))}
    assert {t: p["y"] for t, p in done.items() if t != "bad"} == {0: 0, 1: 1, 2: 4, 3: 9}
    assert len({p["pid"] for t, p in done.items() if t != "bad"}) <= 2  # workers are reused
    assert done["bad"]["ok"] is False
    assert done["bad"]["error"].startswith("ValueError: failed on purpose with 7")
    assert sorted(v for k, v in events if k == "log") == [f"squaring {x}" for x in range(4)]
    assert sum(v for k, v in events if k == "tick") == 4


def test_a_hang_is_cut_at_its_phase_cap_and_the_pool_goes_on() -> None:
    caps, phases = {"start": 60.0, "work": 0.5}, {"work": "the work"}
    hang = Job("executor_jobs:hang", {}, caps, phases, tag="hang")
    start = time.monotonic()
    with LocalExecutor(1) as pool:
        pool.submit(hang)
        pool.submit(job("square", "after", x=3))
        done = {j.tag: p for j, p in pool.as_completed()}
    assert time.monotonic() - start < 30
    assert done["hang"] == {
        "ok": False,
        "error": "timed out: the work ran past its 0.5 s cap; the worker was killed",
    }
    assert done["after"]["y"] == 9  # on a fresh worker


def test_a_job_whose_worker_died_is_run_again_a_bounded_number_of_times(tmp_path: Path) -> None:
    with LocalExecutor(2, retries=2) as pool:
        pool.submit(job("die_until", "twice", deaths=2, counter=str(tmp_path / "a")))
        pool.submit(job("die_until", "always", deaths=99, counter=str(tmp_path / "b")))
        done = {j.tag: (j.attempts, p) for j, p in pool.as_completed()}
    assert done["twice"] == (3, {"ok": True, "attempt": 3})
    attempts, payload = done["always"]
    assert attempts == 3 and payload["ok"] is False
    assert payload["error"] == "worker process died (exit code -9) during start (3 attempts)"
    with LocalExecutor(1, retries=0) as pool:
        payload = pool.run_one(job("die_until", deaths=1, counter=str(tmp_path / "c")))
    assert payload["error"] == "worker process died (exit code -9) during start"


def test_bad_executor_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="executor='dask' is invalid; accepted: local, ray"):
        make_executor("dask")
    with pytest.raises(ValueError, match="workers=0 is invalid"):
        make_executor("local", workers=0)
    with pytest.raises(ValueError, match="needs executor='ray'"):
        make_executor("local", address="127.0.0.1:6379")
    with pytest.raises(ValueError, match="retries=-1 is invalid"):
        make_executor("local", retries=-1)


def test_the_ray_executor_without_ray_says_how_to_install_it(monkeypatch, capsys) -> None:
    from baselines.experts.make_expert_data import main

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` does where it is missing
    with pytest.raises(ValueError, match=r"pip install 'metail\[ray\]'"):
        make_executor("ray")
    assert main(["--executor", "ray", "--stage", "data", "--data-dir", "unused"]) == 2
    assert "pip install 'metail[ray]'" in capsys.readouterr().err


def test_nothing_imports_ray_unless_asked() -> None:
    code = (
        "import sys; import metail_envs, metail_envs.executors, metail_envs.benchmark.runner; "
        "import baselines.experts.make_expert_data, baselines.experts.cli; "
        "from metail_envs.cli import build_parser; build_parser(); "
        "from metail_envs.executors import Job, LocalExecutor; "
        "pool = LocalExecutor(1); "
        "print(pool.run_one(Job('executor_jobs:square', {'x': 2}))['y'], 'ray' in sys.modules); "
        "pool.close()"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["4", "False"]
