"""Shared fixtures: small, real environments, and a Ray cluster simulated on this machine."""

from __future__ import annotations

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
