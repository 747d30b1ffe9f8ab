"""Fixtures of the benchmark tests (helpers in :mod:`tinybench`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinybench import tiny_config, write_tiny_data

from metail_envs.benchmark import AgentSpec, evaluate


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return write_tiny_data(tmp_path_factory.mktemp("expert_data"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_data):
    """One real evaluation of four agents, 2 seeds, 2 tasks, K in {0, 1}; shared by tests."""
    out = tmp_path_factory.mktemp("run")
    agents = [
        AgentSpec("metail_test_agents:MeanActionAgent", {"scale": 0.5}, name="mean"),
        "expert",
        "metail_test_agents:RaisingAgent",
        "random",
    ]
    with pytest.warns(UserWarning, match="below the protocol's minimum of 5"):
        paths = evaluate(
            agents, out=out, seeds=2, config=tiny_config(), workers=2, data_dir=tiny_data,
            progress=False,
        )  # fmt: skip
    return out, paths
