"""The leaderboard: validate every result file, aggregate the valid ones, render them.

Nothing unvalidated is scored, and no file can stop the others from being shown. A file of
another protocol version, split file, demonstration set or evaluation setting, a malformed,
edited or unfinished one, or one whose agent is not what it says (:mod:`..plausibility`), is
listed with its reason and left out; with ``verify=N`` (``--verify N``) N jobs are re-run from
the files' checkpoints (:mod:`..verify`) and a file whose numbers differ is left out too. The
rest are aggregated per agent and per (split, K) with :mod:`..stats`, implausible results are
flagged, each entry carries its verification verdict, and all is rendered as a Markdown table,
an HTML page and PNG plots.

Aggregation: :mod:`.board` (the data), :mod:`.verdicts`, :mod:`.files` (which files),
:mod:`.entries` (scores and statistics), :mod:`.aggregate` (:func:`load_leaderboard`).
Rendering: :mod:`.tables` (the cells both formats show), :mod:`.markdown`, :mod:`.page` (the HTML
page), :mod:`.plots`, :mod:`.render` (:func:`render_leaderboard`). Rendering reads the data;
aggregation never imports rendering.
"""

from __future__ import annotations

from .aggregate import load_leaderboard
from .board import Cell, Entry, Excluded, Leaderboard
from .markdown import markdown
from .render import LoadOptions, render_leaderboard
from .verdicts import (
    NOT_VERIFIED,
    VERDICTS,
    VERIFIED_CONSISTENT,
    VERIFIED_DIFFERS,
    VERIFIED_IDENTICAL,
)

__all__ = [
    "NOT_VERIFIED",
    "VERDICTS",
    "VERIFIED_CONSISTENT",
    "VERIFIED_DIFFERS",
    "VERIFIED_IDENTICAL",
    "Cell",
    "Entry",
    "Excluded",
    "Leaderboard",
    "LoadOptions",
    "load_leaderboard",
    "markdown",
    "render_leaderboard",
]
