"""`metail` is the one front door: every registered command's --help works without heavy imports,
each pipeline tool's `python -m` form takes exactly the options of its `metail` command, and
bad input to them is one line and exit status 2."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from metail_envs.cli import build_parser, main

HEAVY = ("torch", "stable_baselines3", "imitation", "matplotlib", "minari", "ray")

PYTHON_M = {  # `metail` command -> the module whose `python -m` form is the same command
    "expert-data": "baselines.experts.make_expert_data",
    "retry-experts": "baselines.experts.retry",
    "validate": "baselines.validate",
    "expert-plots": "baselines.experts.plots",
    "probe-params": "baselines.experts.probe_params",
    "calibrate-short-track": "baselines.calibrate_short_track",
    "convert-expert": "baselines.experts.convert",
    "expert-table": "baselines.experts.expert_table",
}

EVERY_HELP = f"""
import contextlib, io, json, sys
from metail_envs.cli import all_commands, build_parser

parser, helps = build_parser(), {{}}
for command in all_commands():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            parser.parse_args([command.name, "--help"])
            code = "no exit"
        except SystemExit as e:
            code = e.code
    helps[command.name] = [code, out.getvalue()]
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
print(json.dumps({{"helps": helps, "heavy": heavy}}))
"""


def _subparser(name: str) -> argparse.ArgumentParser:
    [sub] = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _options(parser: argparse.ArgumentParser) -> list[tuple]:
    """Everything that decides how a command line parses, option by option."""
    return [
        (a.option_strings, a.dest, a.nargs, a.const, a.default, a.type, a.choices, a.required)
        + (a.help, a.metavar, type(a).__name__)
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction)
    ]


def test_metail_help_lists_every_command_and_stays_light():
    code = "import runpy, sys; sys.argv = ['metail', '--help']\n"
    code += "try:\n    runpy.run_module('metail_envs.cli', run_name='__main__')\n"
    code += "except SystemExit as e:\n    assert e.code == 0, e.code\n"
    code += f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    *help_lines, heavy = out.stdout.strip().splitlines()
    assert heavy == "[]"
    listed = {line.split()[0] for line in help_lines if line.startswith("    ")}
    assert set(PYTHON_M) | {"train-expert", "evaluate", "leaderboard"} <= listed


def test_every_registered_command_has_a_working_help_without_heavy_imports():
    out = subprocess.run(
        [sys.executable, "-c", EVERY_HELP], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    assert result["heavy"] == []
    assert set(PYTHON_M) <= set(result["helps"])
    for name, (code, text) in result["helps"].items():
        assert code == 0, name
        assert text.startswith(f"usage: metail {name} "), (name, text[:80])
        assert "-h, --help" in text, name


@pytest.mark.parametrize("command, module", sorted(PYTHON_M.items()))
def test_the_python_m_form_takes_the_same_options(command, module, capsys):
    mod = importlib.import_module(module)
    assert _options(mod.build_parser()) == _options(_subparser(command))
    with pytest.raises(SystemExit) as e:
        mod.main(["--help"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("usage: ")


def test_train_expert_all_says_it_is_the_training_stage_only(capsys):
    with pytest.raises(SystemExit):
        main(["train-expert", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the training stage of `metail expert-data`" in text
    assert "`metail expert-data` runs the whole pipeline" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["probe-params", "friction"], "variant 'friction' is invalid; accepted: NAME=VALUE"),
        (["probe-params", "friction=2", "mass=heavy"], "variant 'mass=heavy' is invalid"),
        (["retry-experts", "--plan", "no-such-plan"], "retry plan 'no-such-plan' not found"),
        (["expert-data", "--task", "hopper-v9/test/00"], "are not in suite 'hopper-v1'"),
    ],
)
def test_bad_input_is_one_line_and_status_2(argv, message, capsys, tmp_path):
    if argv[0] == "expert-data":  # a fresh data directory: nothing trained, nothing written
        argv = [*argv, "--stage", "train", "--data-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"metail {argv[0]}: error: ") and message in err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_convert_expert_refuses_an_unknown_task_in_both_forms(tmp_path, capsys):
    from baselines.experts.convert import main as python_m

    out = tmp_path / "x.zip"
    assert main(["convert-expert", "--task", "hopper-v1/test/99", "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("metail convert-expert: error: ")
    assert python_m(["--task", "hopper-v1/test/99", "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("convert: error: ")
    assert not Path(out).exists()
