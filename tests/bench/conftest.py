"""Speed benchmarks: each measurement is reported beside a reference measured in the same run.

A benchmark test records its median with ``record(benchmark, group, role)``, ``role`` being
``"reference"`` or ``"candidate"``; at the end of the session every group prints
``candidate vs reference`` as a ratio (and a per-call difference), so numbers from different
machines or loads are never compared across runs.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

_RESULTS: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)


def pytest_collection_modifyitems(items) -> None:
    """Everything under tests/bench is a benchmark: deselected by default, run with -m bench."""
    for item in items:
        if "bench" in item.path.parts:
            item.add_marker(pytest.mark.bench)


@pytest.fixture
def record():
    def _record(benchmark, group: str, role: str, calls_per_round: int = 1) -> None:
        median = benchmark.stats.stats.median
        _RESULTS[group][role] = (median, median / calls_per_round)
        benchmark.extra_info.update(group=group, role=role, calls_per_round=calls_per_round)

    return _record


def pytest_terminal_summary(terminalreporter) -> None:
    if not _RESULTS:
        return
    terminalreporter.section("side-by-side ratios (same run)")
    for group, roles in sorted(_RESULTS.items()):
        if {"reference", "candidate"} <= roles.keys():
            ref, cand = roles["reference"][1], roles["candidate"][1]
            terminalreporter.write_line(
                f"{group}: candidate {cand * 1e6:.2f} us/call, reference {ref * 1e6:.2f} us/call, "
                f"speed ratio {ref / cand:.3f}x, difference {(cand - ref) * 1e6:+.2f} us/call"
            )
