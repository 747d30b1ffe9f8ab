"""The numbers the README and the docs publish are the ones the committed result files give: the
current leaderboard re-aggregated from ``results``, the copies of its tables in the README and
in ``docs/results.md``, and the quick estimates' summary re-read from ``results/quick_vs_full``
(the v2 tuning runs of ``results/validation`` are protocol v2's, which this metail no longer
reads: their table in docs/baselines.md is archived as it was checked at commit 07bc7d3). A hand-edited cell, or a result file
changed without re-rendering, fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

from metail_envs.benchmark.leaderboard import load_leaderboard, markdown
from metail_envs.benchmark.leaderboard.markdown import legend
from metail_envs.benchmark.leaderboard.verdicts import MARKS

ROOT = Path(__file__).parents[1]
RENDERED = ROOT / "docs" / "leaderboard" / "leaderboard.md"


def without_verdicts(markdown: str) -> str:
    """A text without the leaderboard's verdict marks after agent names, nor their legend: they
    come from ``--verify`` re-runs, which re-aggregating the files cannot give."""
    text = markdown.replace(legend() + "\n\n", "")
    for mark in filter(None, MARKS.values()):
        text = re.sub(rf"^(\| [^|]*?) {re.escape(mark)} \|", r"\1 |", text, flags=re.MULTILINE)
    return text


def tables(markdown: str) -> list[str]:
    """Every Markdown table of a text, in order (runs of lines that start with ``|``), without
    verdict marks."""
    text = without_verdicts(markdown)
    return [m.group(0) for m in re.finditer(r"^\|.*(?:\n\|.*)*", text, re.MULTILINE)]


def without_verification(markdown: str) -> str:
    """A rendered leaderboard without the section of its ``--verify`` re-runs nor its verdicts."""
    return without_verdicts(markdown).split("\n## Verification")[0].rstrip() + "\n"


def test_verdict_marks_and_their_legend_are_taken_out():
    marked = f"intro\n\n{legend()}\n\n| bc {MARKS['differs']} | 2 (< 5) |\n| x ✓ | 1 |\n"
    assert without_verdicts(marked) == "intro\n\n| bc | 2 (< 5) |\n| x | 1 |\n"


def test_tables_finds_each_markdown_table():
    text = "intro\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\ntext | not a table\n| c |\n"
    assert tables(text) == ["| a | b |\n|---|---|\n| 1 | 2 |", "| c |"]


def test_the_committed_leaderboard_is_what_the_result_files_give():
    board = load_leaderboard(ROOT / "results")
    assert without_verification(markdown(board)) == without_verification(RENDERED.read_text())


def rendered_tables() -> tuple[list[str], list[str]]:
    """The rendered board's headline tables (test, ood) and its adaptation-against-K=0 table."""
    rendered = tables(RENDERED.read_text())
    headline = [t for t in rendered if t.startswith("| agent | seeds |")]
    per_task = [t for t in rendered if "below with 95% confidence" in t.splitlines()[0]]
    assert len(headline) == 2 and len(per_task) == 1  # test, ood; adaptation against K=0
    return headline, per_task


def test_the_readme_table_is_the_rendered_in_distribution_table():
    headline, _ = rendered_tables()
    readme = tables((ROOT / "README.md").read_text())
    test_table = headline[0]  # the README shows split test; docs/results.md both splits
    assert test_table in readme, f"README lacks the rendered table {test_table.splitlines()[2]!r}"


def test_the_results_doc_tables_are_the_rendered_leaderboards():
    headline, per_task = rendered_tables()
    doc = tables((ROOT / "docs" / "results.md").read_text())
    for t in [*headline, *per_task]:
        assert t in doc, f"docs/results.md lacks the rendered table starting {t.splitlines()[2]!r}"


def test_the_quick_estimates_summary_is_what_its_result_file_gives():
    from baselines.quick_vs_full import summary

    rows = json.loads((ROOT / "results" / "quick_vs_full" / "quick_vs_full.json").read_text())
    expected = summary(rows["rows"])
    assert expected in tables((ROOT / "docs" / "results.md").read_text())
