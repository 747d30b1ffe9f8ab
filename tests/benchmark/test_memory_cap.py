"""A per-worker memory cap: a memory-hungry agent fails its own jobs, the others run."""

from __future__ import annotations

import sys

import pytest
from tinybench import load, tiny_config

import metail_envs
from metail_envs.benchmark import AgentSpec, evaluate
from metail_envs.executors import make_executor
from metail_envs.executors.memory import SHARE_FRACTION, cap_bytes, machine_memory

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*below the protocol's minimum"),
    pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_DATA caps allocations on Linux"),
]


def test_a_memory_hog_fails_its_jobs_alone(tmp_path, tiny_data):
    test0 = metail_envs.load_suite("hopper-v1").test[0].id
    config = tiny_config(splits=("test",), k_values=(0, 1), tasks=(test0,))
    hog = AgentSpec("metail_test_agents:MemoryHogAgent", {"gb": 3.0}, name="hog")
    mean = AgentSpec("metail_test_agents:MeanActionAgent", {}, name="mean")
    paths = evaluate(
        [hog, mean], out=tmp_path, seeds=1, config=config, workers=2, data_dir=tiny_data,
        progress=False, max_memory_gb=1.0,
    )  # fmt: skip
    hog_doc, mean_doc = (load(p) for p in paths)
    assert hog_doc["meta_train"]["status"] == "ok"  # the cap leaves room for a normal job
    assert [j["status"] for j in hog_doc["jobs"]] == ["failed", "failed"]
    for job in hog_doc["jobs"]:
        assert job["error"].startswith(
            "out of memory: the job needed more than the worker's memory cap of 1.0 GB "
            "(--max-memory-gb)"
        )
        assert "MemoryError" in job["error"]
    assert [j["status"] for j in mean_doc["jobs"]] == ["ok", "ok"]


def test_the_default_cap_is_a_share_of_the_machine():
    total = machine_memory()
    assert total and cap_bytes("share", 4) == int(SHARE_FRACTION * total / 4)
    assert cap_bytes(None, 4) is None and cap_bytes(float("inf"), 4) is None
    assert cap_bytes(2.5, 4) == 2_500_000_000


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), True, "2GB", [2]])
def test_bad_memory_caps_are_refused(bad, tmp_path, tiny_data):
    with pytest.raises(ValueError, match=r"max_memory_gb=.* is invalid; accepted: a number of GB"):
        make_executor("local", memory_gb=bad)
    with pytest.raises(ValueError, match=r"max_memory_gb=.* is invalid"):
        evaluate("random", out=tmp_path, seeds=1, config=tiny_config(), data_dir=tiny_data,
                 progress=False, max_memory_gb=bad)  # fmt: skip
    assert not (tmp_path / "results").exists()
