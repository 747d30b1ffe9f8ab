"""``--agent path/to/my_agent.py:MyAgent``: an agent written in a file next to one's notes is
evaluated from there, in the main process and in every worker (local and Ray), as a user would
run it; a file that does not import is named in the error."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from raytools import ray_or_skip
from tinybench import load, numbers, tiny_config

from metail_envs.benchmark import AgentSpec, evaluate
from metail_envs.benchmark.agent import AgentResolutionError, resolve_agent

pytestmark = pytest.mark.filterwarnings("ignore:.*below the protocol's minimum")
AGENT_FILE = """
import numpy as np
from helper import SCALE  # a neighbour of the file: its directory is on the path

from metail_envs.benchmark import Agent


class Policy:
    def act(self, obs):
        return np.full((len(obs), 3), SCALE)


class MyAgent(Agent):
    def meta_train(self, demos, seed):
        self.n_tasks = len(demos)

    def adapt(self, demos):
        return Policy()
"""


@pytest.fixture
def agent_dir(tmp_path):
    d = tmp_path / "notes"
    d.mkdir()
    (d / "my_agent.py").write_text(textwrap.dedent(AGENT_FILE))
    (d / "helper.py").write_text("SCALE = 0.1\n")
    (d / "broken.py").write_text("import no_such_module_anywhere\n")
    return d


def test_a_file_agent_is_evaluated_from_its_directory_by_the_cli(agent_dir, tiny_data, tmp_path):
    config = tiny_config(k_values=(0, 1))
    args = [
        sys.executable, "-m", "metail_envs.cli", "evaluate", "--agent", "./my_agent.py:MyAgent",
        "--seeds", "1", "--out", str(tmp_path / "out"), "--workers", "2", "--tasks",
        *config.tasks, "--k-values", "0", "1", "--tracks", "full", "--episodes",
        str(config.episodes), "--max-steps", str(config.max_steps), "--train-tasks",
        *config.train_tasks, "--data-dir", str(tiny_data), "--no-progress",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(args, cwd=agent_dir, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [path] = (tmp_path / "out" / "results").glob("*/seed_000.json")
    doc = load(path)
    assert doc["agent"]["name"] == "my_agent:MyAgent"
    assert doc["agent"]["spec"] == f"{agent_dir / 'my_agent.py'}:MyAgent"
    assert [j["status"] for j in doc["jobs"]] == ["ok"] * 4


def test_a_file_agent_runs_on_ray_with_the_local_numbers(agent_dir, tiny_data, tmp_path):
    ray_or_skip()
    spec = str(agent_dir / "my_agent.py") + ":MyAgent"
    config = tiny_config(splits=("test",), k_values=(0,), tasks=(tiny_config().tasks[0],))
    kw = dict(seeds=1, config=config, data_dir=tiny_data, progress=False, workers=1)
    [local] = evaluate(spec, out=tmp_path / "local", **kw)
    [on_ray] = evaluate(spec, out=tmp_path / "ray", executor="ray", **kw)  # a Ray started here
    assert numbers(load(on_ray)) == numbers(load(local))


def test_a_file_that_does_not_import_is_named(agent_dir, monkeypatch):
    monkeypatch.chdir(agent_dir)
    with pytest.raises(AgentResolutionError, match=r"broken\.py.*ModuleNotFoundError"):
        resolve_agent(AgentSpec("broken.py:MyAgent").spec)
    with pytest.raises(AgentResolutionError, match=r"there is no file .*missing\.py"):
        resolve_agent(AgentSpec("missing.py:MyAgent").spec)
    with pytest.raises(AgentResolutionError, match="has no attribute 'Nope'"):
        resolve_agent(AgentSpec("my_agent.py:Nope").spec)
    assert resolve_agent(AgentSpec("./my_agent.py:MyAgent").spec).__name__ == "MyAgent"
