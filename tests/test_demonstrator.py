"""The v3 demonstrator's driver: a tiny real run over sampled tasks with the context observed,
trained in stretches, resumed, and scored into its learning curve."""

from __future__ import annotations

import csv
import json

import pytest
from envtools import TINY_PPO

from baselines.experts.demonstrator import curve_table, main, training_tasks


def test_training_tasks_are_seeded_draws_and_bad_counts_are_refused():
    a, b = training_tasks("hopper-v1", 3, 7), training_tasks("hopper-v1", 3, 7)
    assert [t.params for t in a] == [t.params for t in b]
    assert a[0].params != training_tasks("hopper-v1", 3, 8)[0].params
    with pytest.raises(ValueError, match="n_tasks must be a positive int, got 0"):
        training_tasks("hopper-v1", 0, 7)


def test_a_tiny_run_trains_in_stretches_resumes_and_writes_its_curve(tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**TINY_PPO, "n_envs": 2, "total_steps": 1024}))
    run = tmp_path / "run"
    args = ["--out", str(run), "--config", str(config), "--n-tasks", "4", "--every", "512"]
    main([*args, "--steps", "512"])
    main([*args, "--steps", "1024", "--resume"])
    rows = list(csv.DictReader((run / "curve.csv").open()))
    assert [(int(r["steps"]), r["split"]) for r in rows] == [
        (s, split) for s in (512, 1024) for split in ("train", "test", "ood")
    ]
    assert all(0 <= float(r["completion"]) <= 1 for r in rows)
    assert json.loads((run / "state.json").read_text())["observe_context"] is True
    table = curve_table(run / "curve.csv")
    assert table.count("\n") == 3 and "| 512 |" in table and "| 1,024 |" in table
