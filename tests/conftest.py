"""Shared fixtures: small, real environments, and a Ray cluster simulated on this machine.

With ``METAIL_NO_SKIP=1`` (set by ``.ci/run``) a skipped test is a failure: CI installs every
extra the tests need, so a skip there can only mean a missing dependency.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from raytools import LOOPBACK, ray_or_skip

import metail_envs


@pytest.fixture
def actions() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (400, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def suite() -> metail_envs.Suite:
    return metail_envs.load_suite("hopper-v1")


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A multi-node Ray cluster on this machine, on loopback only: a head with no CPU (so no
    worker runs beside the driver's node) and two nodes of one CPU each."""
    ray_or_skip()
    from ray.cluster_utils import Cluster

    head = {"num_cpus": 0, "include_dashboard": False, **LOOPBACK}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, **LOOPBACK)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        import ray

        ray.shutdown()  # a test that failed may have left its connection open
        cluster.shutdown()


def _no_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn a skip into a failure that says why it was skipped (``METAIL_NO_SKIP=1``)."""
    if os.environ.get("METAIL_NO_SKIP") != "1" or not report.skipped:
        return
    if hasattr(report, "wasxfail"):
        return  # an expected failure is not a skip
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped, but METAIL_NO_SKIP=1 allows no skip: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    _no_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _no_skip(outcome.get_result())
