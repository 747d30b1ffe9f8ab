"""``metail evaluate`` and ``metail leaderboard`` call the library and report errors clearly."""

from __future__ import annotations

import pytest
from tinybench import EPISODES, MAX_STEPS, tiny_config

from metail_envs.cli import main


@pytest.mark.filterwarnings("ignore:.*below the protocol's minimum")
def test_evaluate_then_leaderboard(tmp_path, tiny_data, capsys):
    config = tiny_config()
    args = [
        "evaluate", "--agent", "random", "--seeds", "1", "--out", str(tmp_path),
        "--workers", "1", "--tasks", config.tasks[0], "--k-values", "0",
        "--episodes", str(EPISODES), "--max-steps", str(MAX_STEPS),
        "--train-tasks", *config.train_tasks, "--data-dir", str(tiny_data), "--no-progress",
        "--leaderboard",
    ]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| random (reference) | 1 (< 5) |" in out
    assert (tmp_path / "results" / "random" / "seed_000.json").exists()
    assert main(["leaderboard", str(tmp_path), "--data-dir", str(tiny_data)]) == 0
    assert "# metail leaderboard" in capsys.readouterr().out
    assert main(args) == 2  # results exist and --resume was not given
    assert "--resume" in capsys.readouterr().err


def test_bad_arguments_are_reported(tmp_path, tiny_data, capsys):
    base = ["evaluate", "--out", str(tmp_path), "--data-dir", str(tiny_data), "--no-progress"]
    assert main([*base, "--agent", "random", "--agent-kwargs", "[1]"]) == 2
    assert "--agent-kwargs must be a JSON object" in capsys.readouterr().err
    assert main([*base, "--agent", "random", "--agent", "expert", "--name", "x"]) == 2
    assert "exactly one --agent" in capsys.readouterr().err
    assert main([*base, "--agent", "random", "--episodes", "0"]) == 2
    assert "episodes=0 is invalid" in capsys.readouterr().err
