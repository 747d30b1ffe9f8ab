"""The leaderboard page in a real browser (headless Chromium through Playwright), rendered from a
real tiny run on both tracks: no script error, every entry shown with its verdict, sorting by a
column header, the split, track and K selectors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinybench import TINY_AGENTS, tiny_config

from metail_envs.benchmark import evaluate, render_leaderboard
from metail_envs.benchmark.leaderboard import VERDICTS, VERIFIED_IDENTICAL

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def board_page(tmp_path_factory, tiny_data):
    """A rendered board of a real run on the short and the full track, verified (``verify=1``:
    a job of every file re-run, so the agents with checkpoints are verified identical)."""
    out = tmp_path_factory.mktemp("two_tracks")
    config = tiny_config(tracks=("short", "full"))
    with pytest.warns(UserWarning, match="below the protocol's minimum of 5"):
        evaluate(TINY_AGENTS, out=out, seeds=2, config=config, workers=2, data_dir=tiny_data,
                 progress=False)  # fmt: skip
    board = render_leaderboard(
        out, data_dir=tiny_data, baseline="mean", resamples=50, verify=1, workers=2
    )
    assert next(e for e in board.entries if e.name == "mean").verdict == VERIFIED_IDENTICAL
    return board, board.outputs["html"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():  # under CI (METAIL_NO_SKIP=1) a skip fails: .ci/run installs it
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def tab(browser, board_page):
    """The page open in a fresh tab, with every script error and console error collected."""
    errors: list[str] = []
    tab = browser.new_page()
    tab.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    tab.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    tab.goto(board_page[1].resolve().as_uri())
    tab.wait_for_load_state("load")
    yield tab, errors
    tab.close()


def visible_table(tab, split: str):
    return tab.locator(f"section.board[data-split='{split}'] table")


def column_keys(table, title: str) -> list[float | None]:
    """The sort numbers of one column, top to bottom (``None``: an empty cell)."""
    titles = [t.strip() for t in table.locator("thead th").all_inner_texts()]
    col = next(i for i, t in enumerate(titles) if t.startswith(title))
    keys = table.locator(f"tbody tr td:nth-child({col + 1})").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-sort'))"
    )
    return [None if k is None else float(k) for k in keys]


def test_page_renders_every_entry_and_its_verdict_without_errors(tab, board_page):
    tab, errors = tab
    board, _ = board_page
    table = visible_table(tab, "test")
    assert table.is_visible()
    agents = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.agent)")
    assert agents == [e.name for e in board.entries]  # the board's order, every entry
    verdicts = table.locator("td.verdict").all_inner_texts()
    assert len(verdicts) == len(board.entries)
    assert all(any(v.endswith(word) for word in VERDICTS) for v in verdicts)
    mean = table.locator("tr[data-agent='mean'] td.verdict")
    assert mean.is_visible() and "verified identical" in mean.inner_text()
    assert (
        table.locator("tr[data-agent='random'] td.verdict").inner_text() == "✓ verified identical"
    )
    assert tab.locator(".legend").is_visible() and "differs" in tab.locator(".legend").inner_text()
    assert "[" in table.locator("tr[data-agent='mean'] td.num .ci").first.inner_text()
    references = table.locator("tr.ref").evaluate_all("rows => rows.map(r => r.dataset.agent)")
    assert set(references) == {"expert", "random"}
    assert tab.locator("figure img").count() == 3
    assert all(tab.locator("figure img").evaluate_all("imgs => imgs.map(i => i.naturalWidth > 0)"))
    assert errors == []


def test_clicking_a_header_sorts_by_its_numbers(tab):
    tab, errors = tab
    table = visible_table(tab, "test")
    title = "full K=1 IQM"
    before = column_keys(table, title)
    header = table.locator("thead th", has_text=title)
    header.click()
    ascending = column_keys(table, title)
    assert header.get_attribute("aria-sort") == "ascending"
    numbers = [k for k in ascending if k is not None]
    assert numbers == sorted(numbers) and ascending[: len(numbers)] == numbers
    assert ascending != before  # the board's order is best first
    header.click()
    descending = column_keys(table, title)
    assert header.get_attribute("aria-sort") == "descending"
    assert descending == sorted(numbers, reverse=True)
    table.locator("thead th", has_text="agent").click()  # text: by name
    names = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.agent)")
    assert names == sorted(names)
    assert errors == []


def test_split_track_and_k_selectors_switch_what_is_shown(tab):
    tab, errors = tab
    assert visible_table(tab, "test").is_visible() and not visible_table(tab, "ood").is_visible()
    tab.select_option("#split-select", "ood")
    assert visible_table(tab, "ood").is_visible() and not visible_table(tab, "test").is_visible()
    table = visible_table(tab, "ood")

    def shown_titles() -> list[str]:
        heads = table.locator("thead th")
        return [
            heads.nth(i).inner_text() for i in range(heads.count()) if heads.nth(i).is_visible()
        ]

    assert any(t.startswith("short K=1") for t in shown_titles())
    assert any(t.startswith("full K=1") for t in shown_titles())
    tab.select_option("#track-select", "short")
    titles = shown_titles()
    assert any(t.startswith("short K=1") for t in titles)
    assert not any(t.startswith("full K=1") for t in titles)
    assert any(t.startswith("K=0") for t in titles)  # no demonstrations: every track's
    tab.select_option("#track-select", "all")
    tab.select_option("#k-select", "0")
    titles = shown_titles()
    assert any(t.startswith("K=0") for t in titles)
    assert not any("K=1" in t for t in titles)
    other = tab.locator("tr[data-split][data-k]")
    shown = other.evaluate_all(
        "rows => rows.filter(r => !r.hidden).map(r => r.dataset.k + r.dataset.split)"
    )
    assert shown and set(shown) == {"0ood"}
    tab.select_option("#split-select", "all")
    assert visible_table(tab, "test").is_visible() and visible_table(tab, "ood").is_visible()
    assert errors == []


def test_an_entry_verdict_combines_its_files_verdicts():
    from metail_envs.benchmark.leaderboard import (
        NOT_VERIFIED,
        VERIFIED_CONSISTENT,
        VERIFIED_DIFFERS,
    )
    from metail_envs.benchmark.leaderboard.verdicts import MARKS, combine

    assert set(MARKS) == set(VERDICTS)
    assert combine([]) == combine([NOT_VERIFIED]) == NOT_VERIFIED
    assert combine([VERIFIED_IDENTICAL, NOT_VERIFIED]) == VERIFIED_IDENTICAL  # the checked ones
    assert combine([VERIFIED_IDENTICAL, VERIFIED_CONSISTENT]) == VERIFIED_CONSISTENT
    assert combine([VERIFIED_IDENTICAL, VERIFIED_DIFFERS, NOT_VERIFIED]) == VERIFIED_DIFFERS
    with pytest.raises(ValueError, match="unknown verdicts"):
        combine(["identical"])
