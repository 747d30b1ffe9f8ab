"""Fixtures of the benchmark tests (helpers in :mod:`tinybench`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinybench import SLOW, TINY_AGENTS, tiny_config, write_tiny_data

from metail_envs.benchmark import evaluate


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return write_tiny_data(tmp_path_factory.mktemp("expert_data"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_data):
    """One real evaluation of four agents, 2 seeds, 2 tasks, K in {0, 1}; shared by tests."""
    out = tmp_path_factory.mktemp("run")
    with pytest.warns(UserWarning, match="below the protocol's minimum of 5"):
        paths = evaluate(
            TINY_AGENTS, out=out, seeds=2, config=tiny_config(), workers=2, data_dir=tiny_data,
            progress=False,
        )  # fmt: skip
    return out, paths


@pytest.fixture(scope="session")
def slow_reference(tmp_path_factory, tiny_data) -> list[Path]:
    """An uninterrupted local run of the slow agent (2 seeds): the numbers that every
    interrupted, resumed or faulted run of it must reproduce."""
    out = tmp_path_factory.mktemp("whole")
    with pytest.warns(UserWarning, match="below the protocol's minimum of 5"):
        return evaluate(
            [SLOW], out=out, seeds=2, config=tiny_config(), workers=2, data_dir=tiny_data,
            progress=False,
        )  # fmt: skip
