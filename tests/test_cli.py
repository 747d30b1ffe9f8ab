"""The `metail` command line: help, the demo, params, suite; what generate-demos and
export-minari tell (on the shipped data); a missing extra is named."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import metail_envs
from metail_envs.cli import main
from metail_envs.extras import require_extra
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


def test_generate_demos_says_where_and_how_to_load(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("METAIL_CACHE_DIR", str(tmp_path))
    assert main(["generate-demos", "--task", "hopper-v1/test/03", "--n", "1", "--seed", "7"]) == 0
    wrote, load = capsys.readouterr().out.strip().splitlines()
    path = Path(wrote.removeprefix("wrote 1 demonstration of hopper-v1/test/03 to "))
    assert path.is_relative_to(tmp_path) and path.exists()
    call = load.removeprefix("load them with: ")
    assert call == "metail_envs.data.load_cached_demos('hopper-v1/test/03', n=1, start_seed=7)"
    [demo] = eval(call, {"metail_envs": metail_envs})  # the printed call, run as printed
    assert demo.infos[-1]["seed"] == 7


def test_export_minari_says_the_dataset_id_and_path(tmp_path, capsys, monkeypatch):
    minari = pytest.importorskip("minari")  # the experts extra; CI allows no skip
    args = ["export-minari", "--task", "hopper-v1/test/00", "--minari-root", str(tmp_path)]
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))  # restored after the test
    assert main(args) == 0
    wrote, load = capsys.readouterr().out.strip().splitlines()
    m = re.fullmatch(r"wrote Minari dataset (\S+) \((\d+) episodes\) to (\S+)", wrote)
    n = len(metail_envs.data.load_demos("hopper-v1/test/00"))
    assert m and m[1] == "metail/hopper-v1-test-00/expert-v0" and int(m[2]) == n
    assert Path(m[3]).is_dir() and Path(m[3]).is_relative_to(tmp_path)
    assert load == f"load it with: MINARI_DATASETS_PATH={tmp_path} minari.load_dataset({m[1]!r})"
    assert minari.load_dataset(m[1]).total_episodes == n


def test_a_missing_extra_is_named(monkeypatch, capsys):
    require_extra("experts")  # the dev extra installs them all
    with pytest.raises(ValueError, match="extra='gpu' is invalid; accepted: benchmark, experts"):
        require_extra("gpu")
    monkeypatch.setitem(sys.modules, "minari", None)  # as if the experts extra were not installed
    assert main(["export-minari", "--task", "hopper-v1/test/00"]) == 2
    assert capsys.readouterr().err == (
        "metail export-minari: error: No module named 'minari' "
        '(this command needs: pip install "metail[experts]")\n'
    )
