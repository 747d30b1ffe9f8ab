"""``metail evaluate`` and ``metail leaderboard`` call the library and report errors clearly."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from test_benchmark_example import ROOT, example_code
from tinybench import EPISODES, MAX_STEPS, tiny_config

from metail_envs.benchmark.preflight import check_agent_kwargs, constructor_params
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
    assert "| random (reference) ? | 1 (< 5) |" in out
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


def tiny_args(config, tiny_data, out, *agents: str) -> list[str]:
    """`metail evaluate` of the tiny protocol, one seed, one worker."""
    return [
        "evaluate", *(a for agent in agents for a in ("--agent", agent)), "--seeds", "1",
        "--out", str(out), "--workers", "1", "--tasks", *config.tasks,
        "--k-values", *map(str, config.k_values), "--tracks", *config.tracks,
        "--short-k-values", *map(str, config.short_k_values), "--episodes", str(EPISODES),
        "--max-steps", str(MAX_STEPS), "--train-tasks", *config.train_tasks,
        "--data-dir", str(tiny_data),
    ]  # fmt: skip


def test_agent_kwargs_are_checked_against_the_constructor_before_any_job(
    tmp_path, tiny_data, capsys, monkeypatch
):
    code = example_code(ROOT / "README.md")  # the README's third-party agent, my_agent.py
    (tmp_path / "my_agent.py").write_text(code)
    (tmp_path / "exploding_agent.py").write_text(
        "from my_agent import LinearBC\n\n\nclass Exploding(LinearBC):\n"
        "    def __init__(self, ridge=1.0):\n        raise RuntimeError('constructed')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    base = tiny_args(tiny_config(), tiny_data, out)
    assert main([*base, "--agent", "my_agent:LinearBC", "--agent-kwargs", '{"lambda": 10}']) == 2
    err = capsys.readouterr().err
    assert err == (
        "metail evaluate: error: agent 'my_agent:LinearBC' takes no argument 'lambda'; "
        "it takes: ridge\n"
    )
    assert not out.exists()  # nothing started, nothing written
    # read from the signature: the agent is never constructed (its constructor raises)
    args = [*base, "--agent", "exploding_agent:Exploding", "--agent-kwargs", '{"a": 1, "b": 2}']
    assert main(args) == 2
    assert "takes no arguments 'a', 'b'; it takes: ridge" in capsys.readouterr().err
    assert main([*base, "--agent", "no_such_module_xyz:Agent"]) == 2
    assert "cannot import module 'no_such_module_xyz'" in capsys.readouterr().err
    assert not out.exists()


def test_constructor_params_and_kwargs_check():
    class Required:
        def __init__(self, width, depth=2, *, lr=0.1):
            pass

    class Anything:
        def __init__(self, **kwargs):
            pass

    class Plain:
        pass

    params = constructor_params(Required)
    assert params == {"names": ["width", "depth", "lr"], "required": ["width"], "any": False}
    check_agent_kwargs("m:Required", {"width": 3, "lr": 1.0}, params)
    with pytest.raises(ValueError, match=r"agent 'm:Required' needs 'width' .*width, depth, lr"):
        check_agent_kwargs("m:Required", {"depth": 3}, params)
    check_agent_kwargs("m:Anything", {"x": 1}, constructor_params(Anything))
    with pytest.raises(ValueError, match="takes no argument 'x'; it takes: no arguments"):
        check_agent_kwargs("m:Plain", {"x": 1}, constructor_params(Plain))


@pytest.mark.filterwarnings("ignore:.*below the protocol's minimum")
def test_a_run_where_every_job_of_an_agent_failed_exits_1(tmp_path, tiny_data, capsys):
    agents = ["metail_test_agents:RaisingAgent", "metail_test_agents:FailingMetaTrainAgent"]
    args = tiny_args(tiny_config(), tiny_data, tmp_path, *agents, "random")
    assert main(args) == 1
    err = capsys.readouterr().err
    n = len(tiny_config().tasks) * len(tiny_config().conditions())
    assert f"every job of agent 'metail_test_agents:RaisingAgent' failed ({n} of {n})" in err
    assert err.count("RuntimeError: adapt exploded on purpose") == 1  # the first of its kind
    assert "seed 0, meta-training: ValueError: meta-training exploded on purpose" in err
    assert "agent 'random'" not in err
    # stderr is not a terminal here: one line per finished stage, no progress bar
    assert "random seed 0: meta-trained in" in err
    assert f"random seed 0: {n} evaluation jobs done, 0 failed" in err
    assert f"RaisingAgent seed 0: {n} evaluation jobs done, {n} failed" in err
    assert "\r" not in err and "episodes" not in err


@pytest.mark.parametrize("case", ["file", "under a file", "not writable"])
def test_bad_out_is_one_line_before_anything_starts(case, tmp_path, tiny_data, capsys):
    path = tmp_path / "taken"
    path.write_text("")
    out = {"file": path, "under a file": path / "out", "not writable": tmp_path / "ro" / "out"}
    if case == "not writable":
        (tmp_path / "ro").mkdir(mode=0o500)
        if os.access(tmp_path / "ro", os.W_OK):  # root writes anywhere but in sysfs
            out[case] = Path("/sys/metail-test-out")
    assert main(tiny_args(tiny_config(), tiny_data, out[case], "random")) == 2
    err = capsys.readouterr().err
    want = {"file": "is a file", "under a file": "which is a file", "not writable": "not writable"}
    assert err.startswith(f"metail evaluate: error: --out {out[case]} ") and want[case] in err
    assert err.count("\n") == 1


def test_console_output_warnings_and_progress(tmp_path, tiny_data):
    """In a real process: a warning is one line without its source line; progress bars only
    when stderr is a terminal, otherwise one line per finished stage."""
    config = tiny_config()
    n = len(config.tasks) * len(config.conditions())

    def command(out: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "metail_envs.cli",
            *tiny_args(config, tiny_data, out, "random"),
        ]

    piped = subprocess.run(command(tmp_path / "piped"), capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert "metail: warning: 1 seeds is below the protocol's minimum of 5" in piped.stderr
    assert "UserWarning" not in piped.stderr and "evaluate(" not in piped.stderr
    stages = [ln.split("] ", 1)[1] for ln in piped.stderr.splitlines() if ln.startswith("[")]
    assert stages == [
        "random seed 0: meta-trained in 0.0 s",
        f"random seed 0: {n} evaluation jobs done, 0 failed",
    ]
    assert piped.stderr.splitlines()[-1] == f"1 result files under {tmp_path / 'piped'}"

    leader, follower = pty.openpty()  # stderr a terminal (100 columns): progress bars instead
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(command(tmp_path / "tty"), stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = b""
    try:
        while chunk := os.read(leader, 65536):
            seen += chunk
    except OSError:  # EIO: every writer has closed the terminal
        pass
    finally:
        os.close(leader)
    assert proc.wait(timeout=300) == 0, seen.decode(errors="replace")
    assert b"episodes" in seen and b"jobs" in seen and b"evaluation jobs done" not in seen


def test_quick_estimate_prints_its_table_and_is_no_leaderboard_entry(tmp_path, capsys):
    """``--quick``: the fixed subset (QUICK_TASKS, QUICK_EPISODES, QUICK_SEEDS) at the full
    horizon, its table printed and marked; its files are left out of a leaderboard unless asked
    for; it takes no smoke option."""
    from tinybench import write_tiny_data

    from metail_envs.benchmark import load_leaderboard
    from metail_envs.benchmark.protocol import QUICK_SEEDS, QUICK_TASKS
    from metail_envs.benchmark.results import read_result

    out, data = tmp_path / "quick", write_tiny_data(tmp_path / "data", n_demos=5)  # K=5
    base = ["evaluate", "--agent", "random", "--agent", "expert", "--out", str(out),
            "--data-dir", str(data), "--no-progress", "--workers", "2"]  # fmt: skip
    assert main([*base, "--quick"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("# metail quick estimate") and "QUICK ESTIMATE" in table
    files = sorted(out.glob("results/*/seed_*.json"))
    assert len(files) == 2 * QUICK_SEEDS
    doc = read_result(files[0])
    assert doc["config"]["quick"] is True and doc["config"]["tasks"] == list(QUICK_TASKS)
    assert {j["task"] for j in doc["jobs"]} == set(QUICK_TASKS)
    board = load_leaderboard(out, data_dir=data)
    assert not board.entries and len(board.excluded) == len(files)
    assert all("quick estimate" in x.reasons[0] for x in board.excluded)
    shown = load_leaderboard(out, data_dir=data, quick=True)
    scores = {e.name: e.summary[("test", "full", 0)]["iqm"] for e in shown.entries}
    assert scores["expert"] == pytest.approx(100.0, abs=1e-6)  # its own references' episodes
    assert abs(scores["random"]) < 10.0  # seed 0 is the reference's draw, seed 1 another
    assert main([*base, "--quick", "--episodes", "2"]) == 2
    assert "--quick is a fixed subset" in capsys.readouterr().err
