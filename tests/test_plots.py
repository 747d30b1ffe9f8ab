"""The leaderboard's figures with many agents: one style per agent in every figure, references
drawn as reference lines, the baseline highlighted, one legend outside the panels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D

from metail_envs.benchmark.leaderboard import Entry, Leaderboard, plots
from metail_envs.benchmark.leaderboard.entries import summarise as _summarise
from metail_envs.benchmark.leaderboard.tables import label as _label

AGENTS = 16
BASELINE = "agent_03"
TASKS = {"test": [f"hopper/{i:02d}" for i in range(4)], "ood": [f"hopper/{i:02d}" for i in (4, 5)]}
CELLS = [(s, track, k) for s in TASKS for track, k in (("short", 5), ("full", 1), ("full", 0))]


def make_board(agents: int = AGENTS) -> Leaderboard:
    """A board as :func:`load_leaderboard` builds it: random (seeds, tasks) scores per cell,
    summarised by the leaderboard's own ``_summarise``, sorted best first, references included."""
    rng = np.random.default_rng(0)

    def entry(name: str, spec: str, level: float, privileged: bool = False) -> Entry:
        e = Entry(name, spec, privileged, seeds=[0, 1, 2], files=[])
        e.scores = {c: rng.normal(level, 8.0, (3, len(TASKS[c[0]]))) for c in CELLS}
        return e

    entries = [entry("expert", "expert", 100.0, privileged=True)]
    entries += [entry(f"agent_{i:02d}", f"my_pkg:Agent{i}", 90.0 - 5 * i) for i in range(agents)]
    entries.append(entry("random", "random", 0.0))
    board = Leaderboard(entries, [], None, True, TASKS, CELLS, BASELINE, resamples=40)
    _summarise(board, 40, seed=0)
    return board


@pytest.fixture(scope="module")
def board() -> Leaderboard:
    return make_board()


@pytest.fixture(scope="module")
def figures(board):
    drawn = {name: fig for _, name, fig in plots.draw_figures(board, seed=0, label=_label)}
    for fig in drawn.values():
        fig.canvas.draw()  # the Agg canvas: lay out and render, as savefig does
    return drawn


def labelled_lines(fig) -> dict[str, list[Line2D]]:
    """Every labelled line drawn in the figure's panels, by label."""
    found: dict[str, list[Line2D]] = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            if not line.get_label().startswith("_"):
                found.setdefault(line.get_label(), []).append(line)
    return found


def agent_labels(board: Leaderboard) -> set[str]:
    return {
        _label(e) + (" (baseline)" if e.name == BASELINE else "")
        for e in board.entries
        if not plots.is_reference(e)
    }


def test_write_figures(tmp_path, board):
    paths = plots.write_figures(board, tmp_path, seed=0, label=_label)
    assert sorted(p.name for p in paths.values()) == ["heatmap.png", "iqm.png", "profiles.png"]
    for path in paths.values():
        assert path.parent == tmp_path
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_references():
    board = make_board()
    refs = [e.name for e in board.entries if plots.is_reference(e)]
    assert refs == ["expert", "random"]  # privileged, and the random agent by its spec
    assert _label(board.entries[0]) == "expert (reference)"
    target = Entry("baseline_random", "metail_envs.benchmark.reference_agents:RandomAgent", False,
                   seeds=[0], files=[])  # fmt: skip
    assert plots.is_reference(target)
    assert not plots.is_reference(board.entries[1])


def test_agent_styles_distinct_and_stable():
    names = [f"a{i}" for i in range(plots.DISTINCT_STYLES)]
    styles = plots.agent_styles(names)
    assert plots.DISTINCT_STYLES >= 40
    assert len({(s.color, s.marker) for s in styles.values()}) == len(names)
    assert plots.agent_styles(names) == styles
    assert plots.agent_styles(names[:12]) == {n: styles[n] for n in names[:12]}
    with pytest.raises(ValueError, match="repeat"):
        plots.agent_styles(["a", "a"])


def test_drawn_styles_one_per_agent(board, figures):
    """What the artists were drawn with: each agent one (colour, marker) in all three figures,
    no two agents the same."""
    agents = agent_labels(board)
    used: dict[str, set[tuple[str, str]]] = {}
    for name, fig in figures.items():
        lines = labelled_lines(fig)
        assert agents <= set(lines), name
        for label in agents:
            used.setdefault(label, set()).update(
                (to_hex(line.get_color()), line.get_marker()) for line in lines[label]
            )
    assert all(len(styles) == 1 for styles in used.values()), used
    pairs = [next(iter(styles)) for styles in used.values()]
    assert len(set(pairs)) == len(pairs) == AGENTS
    assert all(marker not in ("", "None") for _, marker in pairs)


def test_one_legend_outside_every_panel(board, figures):
    for name, fig in figures.items():
        assert len(fig.legends) == 1, name
        assert all(ax.get_legend() is None for ax in fig.axes), name
        legend = fig.legends[0]
        box = legend.get_window_extent()
        for ax in fig.axes:  # the panels, their tick labels and titles, and the colour bars
            assert not box.overlaps(ax.get_tightbbox()), (name, ax.get_title())
        texts = [t.get_text() for t in legend.get_texts()]
        assert agent_labels(board) <= set(texts), name
        assert {"expert (reference)", "random (reference)"} <= set(texts), name


def test_references_are_lines_not_rows(board, figures):
    refs = [e for e in board.entries if plots.is_reference(e)]
    iqm = figures["iqm.png"]
    panels = [
        (split, track, k) for split in TASKS for track, k in dict.fromkeys(c[1:] for c in CELLS)
    ]
    assert len(iqm.axes) == len(panels)
    for ax, cell in zip(iqm.axes, panels):
        assert len(ax.get_yticks()) == AGENTS  # one row per agent, none for a reference
        if ax.get_subplotspec().is_first_col():  # the others share its rows' labels
            assert {t.get_text() for t in ax.get_yticklabels()} == agent_labels(board)
        lines = {line.get_label(): line for line in ax.get_lines()}
        for e in refs:
            line = lines[_label(e)]
            x = np.asarray(line.get_xdata(), dtype=float)
            assert np.all(x == x[0]) and x[0] == pytest.approx(e.summary[cell]["iqm"])
            assert list(line.get_ydata()) == [0, 1]  # in axes units: the panel's full height
    for ax in figures["profiles.png"].axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        for e in refs:
            line = lines[_label(e)]
            assert line.get_linestyle() in ("--", ":", "-.")
            r, g, b = (int(to_hex(line.get_color())[i : i + 2], 16) for i in (1, 3, 5))
            assert r == g == b  # grey or black
            assert line.get_marker() in ("", "None")


def test_baseline_highlighted(board, figures):
    base = f"{BASELINE} (baseline)"
    for name, fig in figures.items():
        bold = {t.get_text() for t in fig.legends[0].get_texts() if t.get_fontweight() == "bold"}
        assert bold == {base}, name
        lines = labelled_lines(fig)
        assert {to_hex(line.get_markeredgecolor()) for line in lines[base]} == {"#000000"}, name
    widths = {
        label: {line.get_linewidth() for line in lines}
        for label, lines in labelled_lines(figures["profiles.png"]).items()
    }
    others = set().union(*(w for label, w in widths.items() if label != base))
    assert min(widths[base]) > max(others)
    ticks = figures["iqm.png"].axes[0].get_yticklabels()
    assert [t.get_text() for t in ticks if t.get_fontweight() == "bold"] == [base]
