"""``render_leaderboard``: aggregate a results directory and write every rendering of it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from ..protocol import BOOTSTRAP_SEED
from . import plots
from .aggregate import load_leaderboard
from .board import Leaderboard
from .markdown import markdown
from .page import page
from .tables import label

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations only (not evaluated at run time)
    from typing_extensions import Unpack


class LoadOptions(TypedDict, total=False):
    """The keyword options of :func:`load_leaderboard`, which :func:`render_leaderboard` passes on."""

    data_dir: str | Path | None
    baseline: str
    resamples: int
    seed: int
    verify: int
    verify_seed: int
    workers: int | None
    quick: bool


def render_leaderboard(
    results_dir: str | Path, out_dir: str | Path | None = None, **options: Unpack[LoadOptions]
) -> Leaderboard:
    """Validate and aggregate ``results_dir`` (``options`` and the ``verify`` re-runs as in
    :func:`load_leaderboard`); write ``leaderboard.md``, ``leaderboard.html`` and the PNG plots
    to ``out_dir`` (default ``<results_dir>/leaderboard``)."""
    board = load_leaderboard(results_dir, **options)
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / "leaderboard"
    out.mkdir(parents=True, exist_ok=True)
    images = plots.write_figures(board, out, options.get("seed", BOOTSTRAP_SEED), label)
    md = out / "leaderboard.md"
    md.write_text(markdown(board))
    html_page = out / "leaderboard.html"
    html_page.write_text(page(board, images))
    board.outputs = {"markdown": md, "html": html_page, **{p.stem: p for p in images.values()}}
    return board
