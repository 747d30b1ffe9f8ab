"""The ray executor on real Ray: one started here for the run, and a cluster of three nodes
simulated on this machine (loopback only). The same result files as the local executor; a node
lost mid-run costs a retry, not a result; a killed run resumes with the uninterrupted numbers."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from raytools import LOOPBACK, ray_or_skip
from tinybench import (
    SLOW,
    TINY_AGENTS,
    kill_after_first_job,
    load,
    numbers,
    start_slow_run,
    tiny_config,
)

from metail_envs.benchmark import AgentSpec, evaluate

pytestmark = pytest.mark.filterwarnings("ignore:.*below the protocol's minimum")
TIMINGS = ("adapt_time_s", "eval_time_s")


def without_timings(doc: dict) -> dict:
    """A result document less what differs between two identical runs: times and the seal."""
    doc = {k: v for k, v in doc.items() if k not in ("timing", "checksum")}
    doc["meta_train"] = {k: v for k, v in doc["meta_train"].items() if k != "time_s"}
    doc["jobs"] = [{k: v for k, v in j.items() if k not in TIMINGS} for j in doc["jobs"]]
    return doc


def test_ray_writes_the_result_files_of_the_local_executor(tiny_run, tiny_data, tmp_path):
    ray = ray_or_skip()
    out, local = tiny_run
    paths = evaluate(
        TINY_AGENTS, out=tmp_path, seeds=2, config=tiny_config(), workers=2, data_dir=tiny_data,
        progress=False, executor="ray",
    )  # fmt: skip
    assert not ray.is_initialized()  # the Ray started for the run is stopped with it
    assert [p.relative_to(tmp_path) for p in paths] == [p.relative_to(out) for p in local]
    for a, b in zip(local, paths, strict=True):
        assert without_timings(load(a)) == without_timings(load(b)), b


def test_a_killed_ray_run_resumes_with_the_uninterrupted_numbers(
    ray_cluster, slow_reference, tiny_data, tmp_path
):
    out = tmp_path / "killed"
    on_ray = {"executor": "ray", "ray_address": ray_cluster.address, "workers": 2}
    done = kill_after_first_job(start_slow_run(out, tiny_data, **on_ray), out)
    assert 1 <= done < 8, "the kill must land mid-run"
    resumed = evaluate(
        [SLOW], out=out, seeds=2, config=tiny_config(), data_dir=tiny_data, progress=False,
        resume=True, **on_ray,
    )  # fmt: skip
    for a, b in zip(slow_reference, resumed, strict=True):
        doc = load(b)
        assert doc["complete"] and numbers(doc) == numbers(load(a))


def test_a_node_lost_mid_run_costs_a_retry_not_a_result(
    ray_cluster, slow_reference, tiny_data, tmp_path, caplog
):
    out = tmp_path / "lost"
    files = [out / "results" / "metail_test_agents_SlowAgent" / f"seed_00{s}.json" for s in (0, 1)]
    before: dict = {}

    def remove_a_node_after_the_first_job() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (files[0].exists() and load(files[0])["jobs"]):
            time.sleep(0.02)
        before.update({f: load(f)["jobs"] for f in files if f.exists()})
        ray_cluster.remove_node(next(iter(ray_cluster.worker_nodes)), allow_graceful=False)

    killer = threading.Thread(target=remove_a_node_after_the_first_job)
    killer.start()
    slow = AgentSpec(SLOW, {"delay": 1.0})  # every job is in flight for a while
    caplog.set_level(logging.WARNING, logger="metail_envs.executors")
    try:
        paths = evaluate(
            [slow], out=out, seeds=2, config=tiny_config(), data_dir=tiny_data, progress=False,
            executor="ray", ray_address=ray_cluster.address, workers=2,
        )  # fmt: skip
    finally:
        killer.join()
        ray_cluster.add_node(num_cpus=1, **LOOPBACK)  # as the fixture promises later tests
    lost = [r.message for r in caplog.records if "Ray worker lost" in r.message]
    assert lost and "running the job again (attempt 2 of 3)" in lost[0]
    assert before and sum(map(len, before.values())) < 8, "the node must be lost mid-run"
    for a, b in zip(slow_reference, paths, strict=True):
        doc = load(b)
        assert doc["complete"] and numbers(doc) == numbers(load(a))
        assert all(job in doc["jobs"] for job in before.get(b, []))  # written results stay
