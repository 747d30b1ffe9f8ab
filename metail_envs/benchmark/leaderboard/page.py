"""The leaderboard as one static HTML page: self-contained (inline CSS and a little vanilla
JavaScript, :mod:`.page_assets`), readable from ``file://`` and without JavaScript.

The tables are plain HTML with the numbers they sort by in ``data-sort`` and the split and
condition of each column and row in ``data-split``, ``data-track`` and ``data-k``; the script
adds sorting by any column and the split, track and K selectors. Every interval stays visible,
every entry shows its verification verdict (:mod:`.verdicts`, with a legend), reference agents
are shaded and badged, and the PNG figures written beside the page are shown below the split
tables.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from .page_assets import SCRIPT, STYLE
from .plots import is_reference
from .tables import (
    Column,
    Row,
    Table,
    Value,
    adaptation_table,
    extra_table,
    intro,
    main_table,
    title,
    verification_lines,
)
from .verdicts import (
    MARKS,
    NOT_VERIFIED,
    VERDICTS,
    VERIFIED_CONSISTENT,
    VERIFIED_DIFFERS,
    VERIFIED_IDENTICAL,
)

if TYPE_CHECKING:
    from .board import Entry, Leaderboard

VERDICT_HELP = {
    VERIFIED_IDENTICAL: "re-run jobs gave the file's numbers bit for bit",
    VERIFIED_CONSISTENT: "re-run on another environment, within tolerance",
    VERIFIED_DIFFERS: "a re-run did not give the file's numbers; that file is left out",
    NOT_VERIFIED: "no job of its files was re-run (metail leaderboard --verify N)",
}
"""What each verdict means, for the legend and the badges' tooltips."""


def _attrs(split: str | None, condition: tuple[str, int] | None) -> str:
    """The ``data-split``/``data-track``/``data-k`` attributes the selectors filter on."""
    out = f" data-split='{escape(split)}'" if split is not None else ""
    if condition is not None:
        out += f" data-track='{escape(condition[0])}' data-k='{condition[1]}'"
    return out


def verdict_badge(verdict: str, detail: str = "") -> str:
    """A verdict as a coloured badge; its tooltip says what it means and what it rests on."""
    tip = VERDICT_HELP[verdict] + (f": {detail}" if detail else "")
    mark = f"{MARKS[verdict]} " if MARKS[verdict] else ""
    css = "v-" + verdict.replace(" ", "-")
    return f"<span class='badge {css}' title='{escape(tip)}'>{mark}{verdict}</span>"


def _agent_cell(board: Leaderboard, e: Entry) -> str:
    badges = []
    if is_reference(e):
        badges.append("<span class='badge b-ref'>reference</span>")
    if e.privileged:
        badges.append(
            "<span class='badge b-priv' title='adapts with the task given'>privileged</span>"
        )
    if e.name == board.baseline:
        badges.append("<span class='badge b-base'>baseline</span>")
    if e.flags:
        why = escape("; ".join(e.flags))
        badges.append(f"<span class='badge b-flag' title='{why}'>FLAGGED</span>")
    return f"<td class='agent' data-sort='{escape(e.name)}'>{escape(e.name)}{''.join(badges)}</td>"


def _value_cell(v: Value, attrs: str = "") -> str:
    text = escape(v.text)
    if " [" in v.text and v.text.endswith("]"):  # an estimate and its interval
        point, interval = v.text.split(" [", 1)
        text = f"{escape(point)} <span class='ci'>[{escape(interval)}</span>"
    if v.key is None:
        return f"<td{attrs}>{text}</td>"
    return f"<td class='num' data-sort='{v.key!r}'{attrs}>{text}</td>"


def _row_class(board: Leaderboard, e: Entry) -> str:
    classes = [c for c, on in (("ref", is_reference(e)), ("baseline", e.name == board.baseline),
                               ("flagged", bool(e.flags))) if on]  # fmt: skip
    return f" class='{' '.join(classes)}'" if classes else ""


def _table(board: Leaderboard, table: Table, main: bool = False) -> str:
    """A table of :mod:`.tables` as HTML; ``main``: a split table, with a rank and a verdict."""
    columns = table.columns
    if main:
        columns = [Column("#"), columns[0], Column("verdict"), *columns[1:]]
    head = "".join(f"<th scope='col'{_attrs(None, c.condition)}>{escape(c.title)}</th>"
                   for c in columns)  # fmt: skip
    body = [_row(board, i, r, table.columns, main) for i, r in enumerate(table.rows, 1)]
    return (
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _row(board: Leaderboard, rank: int, r: Row, columns: list[Column], main: bool) -> str:
    cells = [_agent_cell(board, r.entry)]
    if main:
        cells.insert(0, f"<td class='num' data-sort='{rank}'>{rank}</td>")
        verdict = r.entry.verdict
        cells.append(
            f"<td class='verdict' data-sort='{VERDICTS.index(verdict)}'>"
            f"{verdict_badge(verdict, r.entry.verify_detail)}</td>"
        )
    cells += [_value_cell(v, _attrs(None, c.condition)) for v, c in zip(r.values[1:], columns[1:])]
    attrs = _attrs(r.split if not main else None, r.condition)
    return f"<tr{_row_class(board, r.entry)} data-agent='{escape(r.entry.name)}'{attrs}>{''.join(cells)}</tr>"


def _select(name: str, label: str, options: list[tuple[str, str]], selected: str) -> str:
    opts = "".join(
        f"<option value='{escape(v)}'{' selected' if v == selected else ''}>{escape(t)}</option>"
        for v, t in options
    )
    return f"<label>{label}<select id='{name}-select' data-filter='{name}'>{opts}</select></label>"


def _controls(board: Leaderboard) -> str:
    """The split, track and K selectors; hidden until the script shows them (they need it)."""
    splits = list(board.tasks)
    tracks = sorted({t for _, t, k in board.cells if k > 0})
    ks = sorted({k for _, _, k in board.cells}, reverse=True)
    every = [("all", "all")]
    parts = [
        _select("split", "Split", [(s, s) for s in splits] + every, splits[0] if splits else "all"),
        _select("track", "Track", every + [(t, t) for t in tracks], "all"),
        _select("k", "K", every + [(str(k), f"K={k}") for k in ks], "all"),
        "<span class='hint'>Click a column header to sort; again to reverse. K=0 (no "
        "demonstrations) is shown with either track.</span>",
    ]
    return f"<nav class='controls' id='controls' hidden>{''.join(parts)}</nav>"


def _legend() -> str:
    """What the badges and the shading mean."""
    items = [f"{verdict_badge(v)} {escape(VERDICT_HELP[v])}" for v in VERDICTS]
    items += [
        "<span class='badge b-ref'>reference</span> a reference agent (shaded row), not a "
        "contestant: it proves the normalisation",
        "<span class='badge b-priv'>privileged</span> adapts with the task given",
        "<span class='badge b-base'>baseline</span> P(&gt; baseline) is against it",
        "<span class='badge b-flag'>FLAGGED</span> implausible: shown, not trusted",
    ]
    return "<div class='legend'>" + "".join(f"<span>{i}</span>" for i in items) + "</div>"


def _figures(images: dict[str, Path]) -> str:
    figures = "".join(
        f"<figure><a href='{escape(p.name)}'><img src='{escape(p.name)}' alt='{escape(t)}'></a>"
        f"<figcaption>{escape(t)}</figcaption></figure>"
        for t, p in images.items()
    )
    return f"<h2>Figures</h2><div class='figures'>{figures}</div>" if figures else ""


def _notes(board: Leaderboard) -> list[str]:
    """Flags, verification, failures and the files left out, each only when it has items."""
    e = escape
    sections = [
        ("Flags (implausible results: shown, not trusted)",
         [f"<b>{e(x.name)}</b>: {e('; '.join(x.flags))}" for x in board.entries if x.flags]),
        ("Verification", [e(line) for line in verification_lines(board)]),
        ("Failures",
         [f"<b>{e(x.name)}</b>: {e('; '.join(x.errors[:5]))}" for x in board.entries if x.errors]),
        ("Files left out",
         [f"<code>{e(x.path)}</code>: {e('; '.join(x.reasons))}" for x in board.excluded]),
    ]  # fmt: skip
    parts = []
    for heading, items in sections:
        if items:
            listed = f"<ul class='notes'>{''.join(f'<li>{i}</li>' for i in items)}</ul>"
            if heading == "Files left out":
                listed = f"<details><summary>{len(items)} files</summary>{listed}</details>"
            parts.append(f"<h2>{e(heading)}</h2>{listed}")
    return parts


def _body(board: Leaderboard, images: dict[str, Path]) -> list[str]:
    parts = [f"<h1>{escape(title(board))}</h1>"]
    parts += [f"<p class='intro'>{escape(p)}</p>" for p in intro(board)]
    parts += [_controls(board), _legend()]
    if not board.entries:
        parts.append("<p>No valid result files.</p>")
    for split, ids in board.tasks.items():
        table = _table(board, main_table(board, split), main=True)
        heading = f"<h2>split <code>{escape(split)}</code> ({len(ids)} tasks)</h2>"
        parts.append(f"<section class='board'{_attrs(split, None)}>{heading}{table}</section>")
    parts.append(_figures(images))
    if board.entries:
        parts += ["<h2>Other aggregates</h2>", _table(board, extra_table(board))]
        adaptation = adaptation_table(board)
        if adaptation.rows:
            parts += ["<h2>Adaptation against K=0, per task</h2>", _table(board, adaptation)]
    return parts + _notes(board)


def page(board: Leaderboard, images: dict[str, Path]) -> str:
    """The whole page; ``images``: ``{title: path}`` of the figures written beside it."""
    name = escape(title(board))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{name}</title><style>{STYLE}</style></head>"
        f"<body><main>{''.join(_body(board, images))}</main>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
