"""The context oracle and the demonstrator's demonstrations: tiny real runs on real Hopper
variants (the shipped demonstrator, scripted demonstrations), no mocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.calibrate_v3 import load_demos, save_demos, window
from baselines.context_oracle import ContextOracleAgent
from baselines.experts.dense_demos import (
    DEMONSTRATOR,
    DemonstratorPolicy,
    load_demonstrator,
    record_demos,
)
from metail_envs.benchmark.evaluation import make_envs, run_episodes
from metail_envs.benchmark.protocol import MAX_STEPS
from metail_envs.params import context_of


def test_the_oracle_conditions_on_the_scored_task_and_refuses_to_guess(train_demos, suite):
    agent = ContextOracleAgent("small")
    agent.meta_train(train_demos, seed=0)
    obs = np.zeros((4, 11))
    a, b = (agent.adapt([], task=t).act(obs) for t in suite.test[:2])
    assert a.shape == (4, 3) and np.all(np.abs(a) <= 1.0)
    assert not np.allclose(a, b)  # the context reaches the actions
    with pytest.raises(ValueError, match="needs task="):
        agent.adapt([])


def test_the_oracle_is_seeded(train_demos, suite):
    def actions(seed: int) -> np.ndarray:
        agent = ContextOracleAgent("small")
        agent.meta_train(train_demos, seed=seed)
        return agent.adapt([], task=suite.test[0]).act(np.ones((2, 11)))

    assert np.array_equal(actions(3), actions(3))
    assert not np.array_equal(actions(3), actions(4))


def test_context_of_is_what_the_environment_appends(suite):
    import gymnasium as gym

    import metail_envs

    task = suite.test[0]
    env = gym.make(metail_envs.ENV_ID, task=task, observe_context=True)
    obs, _ = env.reset(seed=0)
    env.close()
    np.testing.assert_allclose(obs[11:], context_of(task.params), atol=1e-6)


def test_the_demonstrator_demonstrates_raw_observations_and_round_trips(suite, tmp_path):
    torch.set_num_threads(1)
    model = load_demonstrator(DEMONSTRATOR, "best")
    tasks = [suite.test[0], suite.ood[0]]
    demos = record_demos(model, tasks, [5, 6], progress=False)
    for d in demos:
        assert d.obs.shape == (len(d.acts) + 1, 11) and d.obs.dtype == np.float32
        assert 0 < len(d.acts) <= MAX_STEPS and d.rews.dtype == np.float32
    # The same policy in the benchmark's evaluation gives the recorded return (one episode in
    # both: a batch of another size may change the last bits, and Hopper episodes are chaotic).
    (alone,) = record_demos(model, tasks[:1], [5], progress=False)
    rets, _ = run_episodes(
        DemonstratorPolicy(model, tasks[0]), make_envs(tasks[0], 1, MAX_STEPS), [5]
    )
    assert rets[0] == pytest.approx(float(alone.rews.astype(np.float64).sum()), rel=1e-6)
    save_demos(tmp_path / "d.npz", demos)
    back = load_demos(tmp_path / "d.npz")
    for a, b in zip(demos, back, strict=True):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.acts, b.acts)
    w = window(back[0], 50)
    assert len(w.acts) == 50 and len(w.obs) == 51


def test_the_calibration_table_averages_seeds_per_agent_and_n(tmp_path):
    import json

    from baselines.calibrate_v3 import table

    def row(agent, n, seed, test, ood):
        return {"agent": agent, "n_tasks": n, "seed": seed, "iqm": {"test": test, "ood": ood}}

    rows = [
        row("context_oracle", 40, 0, 80.0, 40.0),
        row("context_oracle", 40, 1, 90.0, 50.0),
        row("bc", 40, 0, 30.0, 10.0),
        row("single_task_bc", None, 0, 4.0, 3.0),
        row("demonstrator", None, None, 93.0, 43.0),
    ]
    (tmp_path / "calibration.json").write_text(json.dumps({"rows": rows}))
    lines = table(tmp_path / "calibration.json").splitlines()
    assert (
        lines[2] == "| 40 | 85.0 / 45.0 (2) | 30.0 / 10.0 (1) | 4.0 / 3.0 (1) | 93.0 / 43.0 (1) |"
    )
