"""Shared fixtures: small, real environments."""

from __future__ import annotations

import numpy as np
import pytest

import metail_envs


@pytest.fixture
def actions() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (400, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def suite() -> metail_envs.Suite:
    return metail_envs.load_suite("hopper-v1")
