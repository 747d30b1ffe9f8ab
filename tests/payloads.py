"""Live pickle payloads for the "data is not code" tests: a stand-in for any code a file could
run when it is unpickled, and the check that the payload planted in a file really is live."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path


class Payload:
    """Unpickling this writes a marker file: a harmless stand-in for running any code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def assert_each_runs_the_payload(loads: Iterable[Callable[[], object]], marker: Path) -> None:
    """Each careless load (an unpickler) runs the planted payload: the test that our own reader
    refused the same file is not vacuous."""
    for load in loads:
        try:
            load()
        except Exception:  # noqa: BLE001 - the load may fail after the payload ran
            pass
        assert marker.exists(), f"{load} did not run the payload"
        marker.unlink()
