"""The `metail` command line: help, the demo, params, suite."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from metail_envs.cli import main
from metail_envs.params import markdown_table


def test_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "metail_envs.cli", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for command in ("demo", "params", "suite"):
        assert command in out.stdout


def test_demo_prints_variants_and_what_changed(capsys):
    assert main(["demo", "--n", "2", "--steps", "30"]) == 0
    out = capsys.readouterr().out
    assert "hopper-v1/nominal" in out and "hopper-v1/test/01" in out and "mass=" in out


def test_params_table_and_json(capsys):
    main(["params"])
    assert capsys.readouterr().out.strip() == markdown_table()
    main(["params", "--json"])
    assert {p["name"] for p in json.loads(capsys.readouterr().out)} >= {"mass", "friction"}


def test_suite_listing_and_split(capsys):
    main(["suite"])
    assert "hopper-v1" in capsys.readouterr().out.split()
    main(["suite", "hopper-v1", "--split", "ood"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 10 and json.loads(lines[0])["id"] == "hopper-v1/ood/00"


def test_bad_input_is_a_clear_error_not_a_traceback(capsys):
    assert main(["suite", "hopper-v9"]) == 2
    assert "unknown suite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["no-such-command"])
