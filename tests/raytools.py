"""Helpers of the Ray tests: import Ray or skip, and keep every Ray started here on loopback."""

from __future__ import annotations

import os
from types import ModuleType

import pytest

# Ray started by a test takes 127.0.0.1 as its node's address, so that it listens on loopback
# only (the variable's name notwithstanding); ray reads it once, when it is imported.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
LOOPBACK = {"node_ip_address": "127.0.0.1"}


def ray_or_skip() -> ModuleType:
    """``ray``; without it the test is skipped, except in CI (``METAIL_REQUIRE_RAY=1``, set by
    ``.ci/run``, which installs the ``ray`` extra), where that is a failure."""
    try:
        import ray
    except ImportError:
        if os.environ.get("METAIL_REQUIRE_RAY") == "1":
            pytest.fail("ray is not installed but CI requires it: pip install -e '.[ray]'")
        pytest.skip("ray is not installed (pip install 'metail[ray]')")
    return ray
