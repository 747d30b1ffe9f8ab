"""The leaderboard's tables as cells, for every renderer: the text of each cell and the number
it sorts by, the condition each column and row belongs to. The Markdown joins the text
(:mod:`.markdown`); the HTML page also keeps the numbers (:mod:`.page`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import stats
from ..protocol import (
    CONFIDENCE,
    MAX_STEPS,
    MIN_SEEDS,
    QUICK_EPISODES,
    QUICK_TASKS,
    ProtocolConfig,
    condition_label,
)
from ..verify import DIFFERS, FAILED, IDENTICAL, UNVERIFIABLE
from .board import headline_order
from .plots import is_reference

if TYPE_CHECKING:
    from .board import Entry, Leaderboard

Condition = tuple[str, int]
"""A (track, K) condition."""


@dataclass(frozen=True)
class Value:
    """One cell: its text, and the number it sorts by (``None``: sort by the text)."""

    text: str
    key: float | None = None


@dataclass(frozen=True)
class Column:
    """A column's title, and the condition its numbers are of (``None``: all of them)."""

    title: str
    condition: Condition | None = None


@dataclass(frozen=True)
class Row:
    """One agent's row, and the split and condition it is of (``None``: all of them)."""

    entry: Entry
    values: list[Value]
    split: str | None = None
    condition: Condition | None = None


@dataclass(frozen=True)
class Table:
    """Columns and rows, in the board's order (best first)."""

    columns: list[Column]
    rows: list[Row]

    def text(self) -> tuple[list[str], list[list[str]]]:
        """The header and the rows as text."""
        return [c.title for c in self.columns], [[v.text for v in r.values] for r in self.rows]


def title(board: Leaderboard) -> str:
    """``metail leaderboard``, or ``metail quick estimate`` for a board of quick estimates."""
    quick = (board.settings or {}).get("quick")
    return "metail quick estimate" if quick else "metail leaderboard"


def label(entry: Entry) -> str:
    """An entry's name as every table and figure shows it: references and flags marked."""
    text = f"{entry.name} (reference)" if is_reference(entry) else entry.name
    return f"{text} (FLAGGED)" if entry.flags else text


def verification_lines(board: Leaderboard) -> list[str]:
    """What ``verify`` did: the jobs re-run, then one line per entry judged (its verdict and
    what it rests on), then every job that could not be compared."""
    if not board.checks:
        return []
    counts = Counter(c.outcome for c in board.checks)
    order = (IDENTICAL, DIFFERS, FAILED, UNVERIFIABLE)
    names = {IDENTICAL: "bit-identical", DIFFERS: "not bit-identical"}
    head = ", ".join(f"{counts[o]} {names.get(o, o)}" for o in order if counts[o])
    lines = [f"{len(board.checks)} jobs re-run from the files' checkpoints: {head}."]
    for name, v in sorted(board.verdicts.items()):
        left = f"; left out: {', '.join(str(p) for p in v.left_out)}" if v.left_out else ""
        lines.append(
            f"{name}: {v.verdict} ({v.jobs} jobs){': ' + v.detail if v.detail else ''}{left}"
        )
    lines += [
        f"{c.outcome}: {c.path} job {c.key}: {c.detail}"
        for c in board.checks
        if c.outcome in (FAILED, UNVERIFIABLE)
    ]
    return lines


def _f(x: float | None, digits: int = 1) -> Value:
    return Value("–" if x is None else f"{x:.{digits}f}", x)


def settings_text(board: Leaderboard) -> str:
    """Whether the board has the official settings, and if not which and what that means."""
    if board.official:
        return "official protocol settings"
    s = board.settings or {}
    if s.get("quick"):
        return (
            f"QUICK ESTIMATE ({len(QUICK_TASKS)} scored tasks, {QUICK_EPISODES} episodes each; "
            "metail evaluate --quick): not a leaderboard entry, an estimate of one with "
            "intervals as wide as its few runs warrant"
        )
    parts = [f"{k}={v}" for k, v in s.items() if v != ProtocolConfig().settings().get(k)]
    text = "NON-STANDARD settings (" + ", ".join(parts) + "): not comparable with official results"
    if s.get("max_steps", MAX_STEPS) != MAX_STEPS:
        text += f"; scores normalised by references measured in the run at {s['max_steps']} steps"
    return text


REFERENCES_TEXT = (
    "Three privileged references are told the task: `expert` (each task's own specialist, "
    "100 by definition), `demonstrator` (the one policy that made every demonstration, "
    "training and scored tasks alike: what imitating the demonstrations perfectly would "
    "score) and `context_oracle` (BC on the observation plus the true task parameters, "
    "trained on the protocol's meta-training demonstrations and told the scored task: what "
    "perfect task identification gives a BC prior on this data). The gap between the context "
    "oracle and the best non-privileged agent is what task inference still misses; the gap "
    "between it and the demonstrator is what the data misses."
)
"""The header's reading of the privileged references (protocol v3)."""


def intro(board: Leaderboard) -> list[str]:
    """The paragraphs above the tables: protocol, settings, how a score is computed."""
    return [
        f"Protocol: {ProtocolConfig().name}; {settings_text(board)}.",
        "Score per task: 100 × (R − R_random) / (R_expert − R_random). IQM over (seed × task) "
        f"scores with a {CONFIDENCE:.0%} stratified-bootstrap interval ({board.resamples} "
        "resamples, seeded). Failed jobs count as score 0. Reference agents prove the "
        "normalisation (random ≈ 0, expert ≈ 100).",
        REFERENCES_TEXT,
    ]


def _interval(point: float, lo: float, hi: float, digits: int = 1) -> Value:
    return Value(f"{point:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]", point)


def poi_value(summary: dict[str, Any], baseline: str) -> Value:
    """The probability of improvement over ``baseline`` with its interval, or ``–``."""
    poi = summary["poi"].get(baseline)
    return Value("–") if poi is None else _interval(*poi, digits=2)


def main_table(board: Leaderboard, split: str) -> Table:
    """One split's table: per agent the IQM with its interval in every condition, the
    probability of improvement over the baseline in the headline condition, failures, costs."""
    conds = [(track, k) for s, track, k in board.cells if s == split]
    pct = f"{CONFIDENCE:.0%}"
    columns = [Column("agent"), Column("seeds")]
    columns += [Column(f"{condition_label(*c)} IQM [{pct} CI]", c) for c in conds]
    if board.cells:
        columns.append(Column(f"P(> {board.baseline}), {condition_label(*conds[0])}", conds[0]))
    columns += [Column(t) for t in ("failures", "meta-train s/seed", "adapt s mean / max")]
    columns.append(Column("adapt steps"))
    return Table(columns, [_main_row(board, e, split, conds) for e in board.entries])


def _main_row(board: Leaderboard, e: Entry, split: str, conds: list[Condition]) -> Row:
    short = f" (< {MIN_SEEDS})" if len(e.seeds) < MIN_SEEDS else ""
    values = [Value(label(e)), Value(f"{len(e.seeds)}{short}", len(e.seeds))]
    fails = total = 0
    for track, k in conds:
        s = e.summary[(split, track, k)]
        values.append(_interval(s["iqm"], *s["iqm_ci"]))
        fails += e.failures[(split, track, k)]
        total += e.scores[(split, track, k)].size
    if board.cells:
        values.append(poi_value(e.summary[(split, *conds[0])], board.baseline))
    adapt = Value("–")
    if e.adapt_s is not None:
        adapt = Value(f"{e.adapt_s[0]:.2f} / {e.adapt_s[1]:.2f}", e.adapt_s[0])
    values += [Value(f"{fails}/{total}", fails), _f(e.meta_train_s), adapt]
    values.append(_f(e.adapt_steps, 0))
    return Row(e, values, split)


def extra_table(board: Leaderboard) -> Table:
    """Per agent, split and condition: mean, median, optimality gap, and the probability of
    improvement over each baseline."""
    pct = f"{CONFIDENCE:.0%}"
    titles = ["agent", "split", "condition", "mean", "median", "optimality gap"]
    titles += [f"P(> {b}) [{pct} CI]" for b in board.baselines]
    rows = []
    for e in board.entries:
        for split, track, k in board.cells:
            s = e.summary[(split, track, k)]
            values = [Value(label(e)), Value(split), Value(condition_label(track, k))]
            values += [_f(s["mean"]), _f(s["median"]), _f(s["optimality_gap"])]
            values += [poi_value(s, b) for b in board.baselines]
            rows.append(Row(e, values, split, (track, k)))
    return Table([Column(t) for t in titles], rows)


def adaptation_table(board: Leaderboard) -> Table:
    """Per agent and adapted condition: on how many tasks (all splits) adapting to the K
    demonstrations scores below the agent's own K=0, on the seeds' mean and with confidence."""
    pct = f"{CONFIDENCE:.0%}"
    titles = ["agent", "condition", "tasks below its K=0 (seed mean)"]
    titles += [f"below with {pct} confidence (paired t)", "largest drop: task, points"]
    rows = []
    conditions = sorted({(t, k) for _, t, k in board.cells if k > 0}, key=headline_order)
    for e in board.entries:
        for track, k in conditions:
            row = _adaptation_row(board, e, track, k)
            if row is not None:
                rows.append(row)
    return Table([Column(t) for t in titles], rows)


def _adaptation_row(board: Leaderboard, e: Entry, track: str, k: int) -> Row | None:
    below = sure = total = 0
    drop: tuple[float, str] = (0.0, "–")
    for split, ids in board.tasks.items():
        cell, zero = (split, track, k), (split, "full", 0)
        if cell not in e.scores or zero not in e.scores:
            continue
        lower, confident = stats.tasks_worse(e.scores[cell], e.scores[zero])
        below, sure, total = (
            below + int(lower.sum()),
            sure + int(confident.sum()),
            total + len(ids),
        )
        diff = (e.scores[cell] - e.scores[zero]).mean(axis=0)
        if diff.min() < drop[0]:
            drop = (float(diff.min()), ids[int(diff.argmin())])
    if not total:
        return None
    text = "–" if drop[1] == "–" else f"{drop[1]}, {drop[0]:.1f}"
    values = [Value(label(e)), Value(condition_label(track, k))]
    values += [Value(f"{below}/{total}", below), Value(f"{sure}/{total}", sure)]
    values.append(Value(text, drop[0] if drop[1] != "–" else None))
    return Row(e, values, None, (track, k))
