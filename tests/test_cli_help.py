"""Every option of every command line has help text, and an option with a default shows it.

Walks the parser of ``metail`` (every subcommand, those that ``baselines`` registers included)
and of each ``python -m`` form of the baselines' modules. A default is shown with argparse's
``%(default)s``, never restated as a number that can drift from the code.
"""

from __future__ import annotations

import argparse
import importlib

import pytest

from metail_envs.cli import build_parser

MODULES = [
    "baselines.validate",
    "baselines.calibrate_short_track",
    "baselines.tuning_table",
    "baselines.quick_vs_full",
    "baselines.experts.make_expert_data",
    "baselines.experts.retry",
    "baselines.experts.convert",
    "baselines.experts.expert_table",
    "baselines.experts.plots",
    "baselines.experts.probe_params",
    "baselines.experts.demonstrator",
]
"""The modules with a ``python -m`` form, each reachable as ``module.build_parser()``."""


def parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """``(name, parser)`` of every command line: ``metail``, each subcommand, each module."""
    out = [("metail", build_parser())]
    out += [(f"python -m {m}", importlib.import_module(m).build_parser()) for m in MODULES]
    todo, seen = list(out), []
    while todo:
        name, parser = todo.pop(0)
        seen.append((name, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{name} {sub}", p) for sub, p in action.choices.items()]
    return seen


def problems(parser: argparse.ArgumentParser) -> list[str]:
    """What an option of one parser lacks: help text, or ``%(default)s`` for its default."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        if not action.help or action.help == argparse.SUPPRESS or not action.help.strip():
            out.append(f"{name}: no help text")
            continue
        flag = isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction)
        default = action.default
        if flag or default is None or default == argparse.SUPPRESS or default == []:
            continue
        if "%(default)" not in action.help:
            out.append(f"{name}: default {default!r} not shown with %(default)s")
    return out


PARSERS = parsers()


def test_every_command_line_is_found():
    names = {name for name, _ in PARSERS}
    assert {"metail evaluate", "metail leaderboard", "metail validate"} <= names
    assert {"metail train-expert", "metail expert-data", "python -m baselines.validate"} <= names


@pytest.mark.parametrize(("name", "parser"), PARSERS, ids=[n for n, _ in PARSERS])
def test_every_option_has_help(name: str, parser: argparse.ArgumentParser):
    assert problems(parser) == [], f"`{name}` options without help or shown default"
    parser.format_help()  # every %(...)s of its help texts formats


def test_problems_finds_an_option_without_help_or_shown_default():
    p = argparse.ArgumentParser()
    p.add_argument("--bare")
    p.add_argument("--number", type=int, default=3, help="a number (3)")
    p.add_argument("--shown", type=int, default=3, help="a number (default %(default)s)")
    p.add_argument("--flag", action="store_true", help="a flag")
    assert problems(p) == ["--bare: no help text", "--number: default 3 not shown with %(default)s"]
