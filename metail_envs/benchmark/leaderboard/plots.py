"""The leaderboard's figures: one job, drawing what :mod:`.aggregate` has aggregated.

Three PNG figures, one panel per (split, condition): the IQM with its interval per agent, the
performance profiles with their bootstrap bands, and the mean score per task. Every agent keeps
one colour and marker in all three (:func:`agent_styles`, distinct for up to
:data:`DISTINCT_STYLES` agents); the reference agents (:func:`is_reference`) are reference lines,
not agents: a labelled vertical line at their IQM, a dashed profile; the board's baseline is drawn
thicker, with a black edge and a bold label. Each figure has one legend, outside its panels.
Figures are built on matplotlib's Agg canvas, never through ``pyplot``: no global state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import stats
from ..agent import BUILTIN_AGENTS
from ..protocol import CONFIDENCE, condition_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .board import Entry, Leaderboard

RANDOM_REFERENCE = "random"
"""The score-0 reference: its short name in :data:`metail_envs.benchmark.agent.BUILTIN_AGENTS`,
its board name."""

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_TAB20 = (*range(0, 14, 2), *range(16, 20, 2), *range(1, 14, 2), *range(17, 20, 2))
"""tab20 without its two greys (kept for the references): 9 dark hues, then their light ones."""
DISTINCT_STYLES = len(_TAB20) * len(MARKERS) // 2
"""How many agents :func:`agent_styles` keeps apart: 72 (colour, marker) pairs."""
_REFERENCE_COLORS = ("black", "#555555", "#999999")
_REFERENCE_LINES = ("--", ":", "-.")
_BASELINE = " (baseline)"


@dataclass(frozen=True)
class Style:
    """How one agent is drawn in every figure."""

    color: str
    marker: str
    linestyle: str


def is_reference(entry: Entry) -> bool:
    """A reference agent, not a contestant: privileged (the expert), or the random agent by name
    or by spec (short name or target, as :mod:`metail_envs.benchmark.plausibility` identifies
    it). The one place that decides it, for the figures, the tables and the page."""
    random_specs = (RANDOM_REFERENCE, BUILTIN_AGENTS[RANDOM_REFERENCE])
    return entry.privileged or entry.name == RANDOM_REFERENCE or entry.spec in random_specs


def agent_styles(names: Sequence[str]) -> dict[str, Style]:
    """One style per agent name, assigned in the given (board) order: the same names in the same
    order get the same styles; no two of the first :data:`DISTINCT_STYLES` share a colour and
    marker (each hue's light shade also has another marker than its dark one)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if len(set(names)) != len(names):
        raise ValueError(f"agent names repeat: {list(names)}")
    cmap, half = colormaps["tab20"], len(_TAB20) // 2
    lines = ("-", "--", "-.", ":")
    return {
        name: Style(
            to_hex(cmap(_TAB20[i % len(_TAB20)])),
            MARKERS[(i // half) % len(MARKERS)],
            lines[(i // DISTINCT_STYLES) % len(lines)],
        )
        for i, name in enumerate(names)
    }


def reference_styles(names: Sequence[str]) -> dict[str, Style]:
    """The references' styles: black and greys, dashed or dotted, no marker."""
    n = len(_REFERENCE_COLORS)  # colour and line style both change: 9 distinct references
    return {
        name: Style(_REFERENCE_COLORS[i % n], "", _REFERENCE_LINES[(i + i // n) % n])
        for i, name in enumerate(names)
    }


@dataclass(frozen=True)
class _Board:
    """What the three figures share: the board split into agents and references, their labels
    and styles."""

    board: Leaderboard
    splits: list[str]
    conditions: list[tuple[str, int]]
    agents: list[Entry]
    references: list[Entry]
    labels: dict[str, str]
    styles: dict[str, Style]

    def baseline(self, entry: Entry) -> bool:
        return entry.name == self.board.baseline

    def line(self, entry: Entry) -> dict[str, Any]:
        """Matplotlib keywords of the entry's line: its style, heavier for the baseline."""
        s, base = self.styles[entry.name], self.baseline(entry)
        return dict(
            color=s.color, marker=s.marker, linestyle=s.linestyle, label=self.labels[entry.name],
            linewidth=2.8 if base else 1.4, zorder=4 if base else 3,
            markeredgecolor="black" if base else s.color, markeredgewidth=1.4 if base else 0.6,
        )  # fmt: skip

    def outline(self, entry: Entry, width: float) -> list[Any]:
        """Path effects: a black edge around the baseline's lines and bars, none for others."""
        if not self.baseline(entry):
            return []
        from matplotlib import patheffects

        edge = patheffects.Stroke(linewidth=width + 1.2, foreground="black", alpha=1.0)
        return [edge, patheffects.Normal()]


def _prepare(board: Leaderboard, label: Callable[[Entry], str]) -> _Board:
    agents = [e for e in board.entries if not is_reference(e)]
    references = [e for e in board.entries if is_reference(e)]
    labels = {e.name: label(e) + (_BASELINE if e.name == board.baseline else "") for e in agents}
    labels |= {e.name: label(e) for e in references}
    styles = agent_styles([e.name for e in agents]) | reference_styles([e.name for e in references])
    return _Board(
        board,
        splits=list(board.tasks),
        conditions=list(dict.fromkeys((track, k) for _, track, k in board.cells)),
        agents=agents,
        references=references,
        labels=labels,
        styles=styles,
    )


def draw_figures(
    board: Leaderboard, seed: int, label: Callable[[Entry], str] | None = None
) -> list[tuple[str, str, Figure]]:
    """The figures as (title, file name, matplotlib figure), not yet saved; ``label`` names an
    entry (default: its name), ``seed`` seeds the profiles' bootstrap."""
    if not board.entries:
        return []
    b = _prepare(board, label or (lambda e: e.name))
    return [
        (f"IQM with {CONFIDENCE:.0%} intervals", "iqm.png", _iqm_figure(b)),
        ("Performance profiles", "profiles.png", _profiles_figure(b, seed)),
        ("Per-task scores", "heatmap.png", _heatmap_figure(b)),
    ]


def write_figures(
    board: Leaderboard, out: Path, seed: int, label: Callable[[Entry], str] | None = None
) -> dict[str, Path]:
    """Draw the figures (:func:`draw_figures`) and write them as PNG into ``out``:
    ``{title: path}``."""
    paths: dict[str, Path] = {}
    for title, name, figure in draw_figures(board, seed, label):
        paths[title] = Path(out) / name
        figure.savefig(paths[title], dpi=100, bbox_inches="tight")
    return paths


def _figure(rows: int, cols: int, size: tuple[float, float], **share: Any) -> tuple[Figure, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False, **share)


def _legend(fig: Figure, b: _Board, handles: list[Any], title: str) -> None:
    """The figure's one legend, right of every panel (saved with ``bbox_inches="tight"``)."""
    fig.tight_layout()
    legend = fig.legend(
        handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
        fontsize="small", title=title, title_fontsize="small", ncols=1 + (len(handles) - 1) // 30,
    )  # fmt: skip
    bold = {b.labels[e.name] for e in b.agents if b.baseline(e)}
    for text in legend.get_texts():
        if text.get_text() in bold:
            text.set_fontweight("bold")


def _bold_ticks(ax: Axes, bold: set[str]) -> None:
    for text in ax.get_yticklabels():
        if text.get_text() in bold:
            text.set_fontweight("bold")


def _iqm_figure(b: _Board) -> Figure:
    """IQM (the agent's marker) and its interval (a bar of its colour) per agent, best first;
    each reference a labelled vertical line at its IQM, its interval a grey band."""
    splits, ks, agents, refs = b.splits, b.conditions, b.agents, b.references
    rows = len(agents) + len(refs)  # one row below the agents per reference, for its label
    fig, axes = _figure(
        len(splits), len(ks), (3.0 * len(ks) + 2.5, (0.3 * rows + 0.9) * len(splits) + 0.4),
        sharex=True, sharey=True,
    )  # fmt: skip
    cells = [(s, *k) for s in splits for k in ks]
    lo = min(min(e.summary[c]["iqm_ci"][0] for e in b.board.entries for c in cells), 0.0)
    hi = max(max(e.summary[c]["iqm_ci"][1] for e in b.board.entries for c in cells), 100.0)
    pad = 0.04 * (hi - lo)
    names = [b.labels[e.name] for e in agents]
    for i, split in enumerate(splits):
        for j, k in enumerate(ks):
            ax = axes[i][j]
            for y, e in enumerate(agents):
                s, line = e.summary[(split, *k)], b.line(e)
                width = 8 if b.baseline(e) else 5
                ax.plot(s["iqm_ci"], [y, y], color=line["color"], lw=width, alpha=0.45,
                        solid_capstyle="butt", zorder=2,
                        path_effects=b.outline(e, width))  # fmt: skip
                ax.plot([s["iqm"]], [y], **{**line, "linestyle": "", "markersize": 7})
            for r, e in enumerate(refs):
                _reference_line(ax, b, e, e.summary[(split, *k)], len(agents) + r, (lo, hi))
            if refs and agents:
                ax.axhline(len(agents) - 0.5, color="0.8", lw=0.6)
            ax.set_yticks(range(len(agents)), names)
            ax.set_ylim(rows - 0.5, -0.5)  # best first, at the top
            ax.set_xlim(lo - pad, hi + pad)
            ax.grid(axis="x", color="0.9", lw=0.6)
            ax.set_axisbelow(True)
            ax.set_title(f"{split}, {condition_label(*k)}", fontsize="medium")
            if i == len(splits) - 1:
                ax.set_xlabel("IQM normalised score")
        _bold_ticks(axes[i][0], {b.labels[e.name] for e in agents if b.baseline(e)})
    handles, _ = axes[0][0].get_legend_handles_labels()
    _legend(fig, b, handles, f"IQM (marker), {CONFIDENCE:.0%} interval (bar)")
    return fig


def _reference_line(
    ax: Axes, b: _Board, e: Entry, s: dict[str, Any], row: int, span: tuple[float, float]
) -> None:
    """A reference's IQM as a vertical line with its interval as a band; its name and value
    written in its own row, on the side of the line with more room."""
    style = b.styles[e.name]
    ax.axvspan(*s["iqm_ci"], color=style.color, alpha=0.08, lw=0, zorder=1)
    ax.axvline(s["iqm"], color=style.color, linestyle=style.linestyle, lw=1.4, zorder=1,
               label=b.labels[e.name])  # fmt: skip
    left = s["iqm"] > (span[0] + span[1]) / 2
    ax.annotate(
        f"{e.name} {round(s['iqm'])}", (s["iqm"], row), xytext=(-4 if left else 4, 0),
        textcoords="offset points", ha="right" if left else "left", va="center",
        fontsize="x-small", color=style.color,
    )  # fmt: skip


def _profiles_figure(b: _Board, seed: int) -> Figure:
    """Performance profiles (fraction of runs above τ) with bootstrap bands; the references'
    profiles as grey/black dashed curves, without bands."""
    splits, ks, board = b.splits, b.conditions, b.board
    fig, axes = _figure(
        len(splits), len(ks), (3.3 * len(ks), 2.8 * len(splits)), sharex=True, sharey=True
    )
    allscores = np.concatenate([m.ravel() for e in board.entries for m in e.scores.values()])
    taus = np.linspace(min(0.0, allscores.min()), max(120.0, allscores.max()), 121)
    every = 20
    for i, split in enumerate(splits):
        for j, k in enumerate(ks):
            ax = axes[i][j]
            for e in b.references:
                style = b.styles[e.name]
                prof = stats.performance_profile(e.scores[(split, *k)], taus)
                ax.plot(taus, prof, color=style.color, linestyle=style.linestyle, lw=1.4,
                        zorder=2, label=b.labels[e.name])  # fmt: skip
            for n, e in enumerate(b.agents):
                m, line = e.scores[(split, *k)], b.line(e)
                lo, hi = stats.performance_profile_ci(m, taus, resamples=board.resamples, seed=seed)
                ax.fill_between(taus, lo, hi, color=line["color"], alpha=0.1, lw=0, zorder=1)
                marks = ((3 * n) % every, every)  # staggered, so the markers do not pile up
                ax.plot(taus, stats.performance_profile(m, taus), markevery=marks,
                        markersize=6 if b.baseline(e) else 4.5,
                        path_effects=b.outline(e, line["linewidth"]), **line)  # fmt: skip
            ax.set_title(f"{split}, {condition_label(*k)}", fontsize="medium")
            if i == len(splits) - 1:
                ax.set_xlabel("normalised score τ")
            if j == 0:
                ax.set_ylabel("fraction of runs > τ")
    handles, _ = axes[0][0].get_legend_handles_labels()
    refs = len(b.references)
    _legend(fig, b, handles[refs:] + handles[:refs], "agent")  # agents first, in board order
    return fig


def _heatmap_figure(b: _Board) -> Figure:
    """Mean score per task (over seeds), one row per (entry, condition), references included;
    each entry's rows marked with its marker, left of the grid."""
    from matplotlib.transforms import offset_copy

    board, ks = b.board, b.conditions
    entries = b.agents + b.references
    rows = [(e, k) for e in entries for k in ks]
    fig, axes = _figure(
        1, len(b.splits),
        (sum(0.5 * len(t) + 5.0 for t in board.tasks.values()), 0.25 * len(rows) + 1.5),
    )  # fmt: skip
    for i, split in enumerate(b.splits):
        ax = axes[0][i]
        grid = np.array([e.scores[(split, *k)].mean(axis=0) for e, k in rows])
        im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for (r, c), v in np.ndenumerate(grid):  # the colour saturates; the number does not
            ax.text(c, r, f"{round(v)}", ha="center", va="center", fontsize=6,
                    color="black" if v > 60 else "white")  # fmt: skip
        swatch = offset_copy(ax.get_yaxis_transform(), fig=fig, x=-8, units="points")
        for n, e in enumerate(entries):
            ys = range(n * len(ks), (n + 1) * len(ks))
            line = b.line(e) if e in b.agents else _reference_swatch(b, e)
            ax.plot([0] * len(ys), ys, transform=swatch, clip_on=False,
                    **{**line, "linestyle": "", "markersize": 6})  # fmt: skip
            if n:
                ax.axhline(n * len(ks) - 0.5, color="white", lw=1.5)
        names = [f"{b.labels[e.name]} {condition_label(*k)}" for e, k in rows]
        ax.set_yticks(range(len(rows)), names, fontsize=7)
        ax.tick_params(axis="y", pad=14, length=0)
        _bold_ticks(ax, {n for n, (e, _) in zip(names, rows) if b.baseline(e)})
        short = [t.rsplit("/", 1)[-1] for t in board.tasks[split]]
        ax.set_xticks(range(len(short)), short, fontsize=7)
        ax.set_title(f"{split}: mean score per task", fontsize="medium")
        fig.colorbar(im, ax=ax, fraction=0.04)
    handles, _ = axes[0][0].get_legend_handles_labels()
    _legend(fig, b, handles, "agent")
    return fig


def _reference_swatch(b: _Board, e: Entry) -> dict[str, Any]:
    """A reference's row marker in the heatmap: a short horizontal bar of its colour."""
    style = b.styles[e.name]
    return dict(color=style.color, marker="_", markeredgewidth=2.0, label=b.labels[e.name])
