"""The leaderboard as Markdown: one table per split, the other aggregates, adaptation against
K=0, then flags, verification, failures and the files left out.

Every entry carries its verdict as a mark after its name in the split tables
(:data:`.verdicts.MARKS`, with a legend): a board rendered without ``--verify`` marks every
entry not verified."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .tables import (
    Table,
    adaptation_table,
    extra_table,
    intro,
    main_table,
    title,
    verification_lines,
)
from .verdicts import MARKS, VERDICTS

if TYPE_CHECKING:
    from .board import Leaderboard


def legend() -> str:
    """What the marks of :data:`.verdicts.MARKS` mean."""
    marked = ", ".join(f"{MARKS[v]} {v}" for v in VERDICTS)
    return (
        f"Verification (`metail leaderboard --verify`, jobs of every file re-run from its "
        f"checkpoint): {marked}; the files of an entry that differs are left out."
    )


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; a ``|`` in a cell is escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _marked(table: Table) -> str:
    """A split table with each entry's verdict mark after its name."""
    header, rows = table.text()
    for row, r in zip(rows, table.rows):
        mark = MARKS[r.entry.verdict]
        row[0] += f" {mark}" if mark else ""
    return md_table(header, rows)


def _sections(board: Leaderboard) -> list[str]:
    """Flags, verification, failures and the files left out: each only when it has items."""
    out: list[str] = []
    flagged = [e for e in board.entries if e.flags]
    if flagged:
        out += ["## Flags (implausible results: shown, not trusted)", ""]
        out += [f"- **{e.name}**: " + "; ".join(e.flags) for e in flagged]
        out.append("")
    verification = verification_lines(board)
    if verification:
        out += ["## Verification", "", *[f"- {line}" for line in verification], ""]
    failing = [e for e in board.entries if e.errors]
    if failing:
        out += ["## Failures", ""]
        for e in failing:
            out += [f"- **{e.name}**: " + "; ".join(f"`{m}`" for m in e.errors[:5])]
        out.append("")
    if board.excluded:
        out += ["## Files left out", ""]
        out += [f"- `{x.path}`: " + "; ".join(x.reasons) for x in board.excluded]
        out.append("")
    return out


def markdown(board: Leaderboard) -> str:
    """The whole leaderboard as one Markdown document."""
    out = [f"# {title(board)}", "", *intro(board), ""]
    if board.entries:
        out += [legend(), ""]
    if not board.entries:
        out += ["No valid result files.", ""]
    for split in board.tasks:
        n = len(board.tasks[split])
        out += [f"## split `{split}` ({n} tasks)", "", _marked(main_table(board, split)), ""]
    if board.entries:
        out += ["## Other aggregates", "", md_table(*extra_table(board).text()), ""]
        adaptation = adaptation_table(board)
        if adaptation.rows:
            out += ["## Adaptation against K=0, per task", "", md_table(*adaptation.text()), ""]
    out += _sections(board)
    return "\n".join(out)
