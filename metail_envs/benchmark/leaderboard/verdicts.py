"""The verification verdict of a leaderboard entry: its four values, defined once, and how an
entry's verdict follows from the verdicts on its seed files.

An entry aggregates one agent's seed files; ``metail leaderboard --verify`` re-runs jobs of
some of them (:mod:`metail_envs.benchmark.verify`). The entry is *verified identical* when every
file checked is, *differs* when any file differs, *verified consistent* when the checked files
are identical or within tolerance, and *not verified* when none was checked. A leaf module: the
aggregation sets the verdicts, the renderers show them, and neither imports the other for it.
"""

from __future__ import annotations

from collections.abc import Iterable

VERIFIED_IDENTICAL = "verified identical"
"""Every re-run job of every checked file gave the file's numbers bit for bit."""
VERIFIED_CONSISTENT = "verified consistent"
"""Re-run on another environment, every checked file agreed within tolerance."""
VERIFIED_DIFFERS = "differs"
"""A checked file's re-run did not give its numbers (that file is left out)."""
NOT_VERIFIED = "not verified"
"""No job of the entry's files was re-run and compared."""
VERDICTS = (VERIFIED_IDENTICAL, VERIFIED_CONSISTENT, VERIFIED_DIFFERS, NOT_VERIFIED)
"""Every verdict, strongest first (the order a table sorts them in)."""
MARKS = {
    VERIFIED_IDENTICAL: "✓",
    VERIFIED_CONSISTENT: "≈",
    VERIFIED_DIFFERS: "✗",
    NOT_VERIFIED: "?",
}
"""The short mark of each verdict, where a table has no room for its words."""


def combine(file_verdicts: Iterable[str]) -> str:
    """An entry's verdict from its files' verdicts (each one of :data:`VERDICTS`)."""
    given = list(file_verdicts)
    unknown = set(given) - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdicts {sorted(unknown)}; accepted: {', '.join(VERDICTS)}")
    if VERIFIED_DIFFERS in given:
        return VERIFIED_DIFFERS
    checked = [v for v in given if v != NOT_VERIFIED]
    if not checked:
        return NOT_VERIFIED
    if all(v == VERIFIED_IDENTICAL for v in checked):
        return VERIFIED_IDENTICAL
    return VERIFIED_CONSISTENT
