"""History-conditioned BC: the windows of training and of acting agree, the action depends on
the episode's own history, each episode keeps its own, and the agent runs through evaluate."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from baselines.history import DemoPool, EpisodeHistory, ending_at
from baselines.history_bc import HistoryBCAgent
from metail_envs.benchmark import AgentSpec, ProtocolConfig, evaluate


@pytest.fixture(scope="module")
def agent(train_demos) -> HistoryBCAgent:
    agent = HistoryBCAgent(config="small")
    agent.meta_train(train_demos, seed=0)
    return agent


def test_acting_sees_the_windows_training_sees(test_demos):
    """Replaying a demonstration through the episode memory gives, at every step, the window
    meta-training gathers for that step (right-aligned) or for a window from the episode's
    start (left-aligned, while fewer than H steps were seen)."""
    h = 4
    pool = DemoPool(test_demos)
    demo = test_demos[1]
    memory = EpisodeHistory(2, h, demo.obs.shape[1], demo.acts.shape[1])
    ids = np.array([1])
    for t in range(len(demo.acts)):
        memory.observe(ids, demo.obs[t : t + 1])
        right, _ = pool.windows(np.array([1]), ending_at(np.array([t]), h))
        np.testing.assert_array_equal(memory.windows(ids, "right"), right)
        left, _ = pool.windows(np.array([1]), max(t - h + 1, 0) + np.arange(h)[None])
        n = min(t + 1, h)
        np.testing.assert_array_equal(memory.windows(ids, "left")[:, :n], left[:, :n])
        memory.record(ids, demo.acts[t : t + 1])
    assert memory.steps.tolist() == [0, len(demo.acts)]  # episode 0 untouched


def test_action_depends_on_the_history(agent, test_demos):
    obs = [np.asarray(t.obs, dtype=np.float64) for t in test_demos]
    policy = agent.adapt([])
    policy.reset(2)
    ids = np.array([0, 1])
    policy.act(np.stack([obs[0][0], obs[1][0]]), ids)  # different pasts
    policy.act(np.stack([obs[0][1], obs[1][1]]), ids)
    a = policy.act(np.stack([obs[0][2], obs[0][2]]), ids)  # the same present
    assert not np.allclose(a[0], a[1])
    fresh = agent.adapt([])
    fresh.reset(1)
    assert not np.allclose(fresh.act(obs[0][2:3], np.array([0])), a[0])


def test_each_episode_keeps_its_own_history_when_others_end(agent, test_demos):
    """A batch whose episodes end at different times acts, row by row, as each episode acting
    alone does."""
    runs = [np.asarray(t.obs[:n], dtype=np.float64) for t, n in zip(test_demos, (12, 5, 9))]
    alone = []
    for run in runs:
        policy = agent.adapt([])
        policy.reset(1)
        alone.append(np.stack([policy.act(o[None], np.array([0]))[0] for o in run]))
    together = agent.adapt([])
    together.reset(3)
    got = [[] for _ in runs]
    for t in range(max(len(r) for r in runs)):
        ids = np.array([i for i, r in enumerate(runs) if t < len(r)])
        actions = together.act(np.stack([runs[i][t] for i in ids]), ids)
        for i, a in zip(ids, actions):
            got[i].append(a)
    for i in range(len(runs)):
        np.testing.assert_allclose(np.stack(got[i]), alone[i], rtol=1e-6, atol=1e-6)


def test_stateful_calls_are_checked(agent, test_demos):
    policy = agent.adapt([])
    obs = np.asarray(test_demos[0].obs[:2], dtype=np.float64)
    with pytest.raises(TypeError, match="reset"):
        policy.act(obs)
    policy.reset(2)
    with pytest.raises(ValueError, match="distinct"):
        policy.act(obs, np.array([1, 1]))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        policy.act(obs, np.array([0, 2]))


def test_default_ignores_the_demos_and_finetune_uses_them(agent, test_demos, tmp_path):
    obs = np.asarray(test_demos[0].obs[:1], dtype=np.float64)

    def first_action(policy):
        policy.reset(1)
        return policy.act(obs, np.array([0]))

    assert agent.config.adaptation == "none"
    ignoring = agent.adapt(test_demos[:2])
    assert ignoring.adapt_stats["gradient_steps"] == 0
    np.testing.assert_array_equal(first_action(ignoring), first_action(agent.adapt([])))
    agent.save(tmp_path)
    tuner = HistoryBCAgent.load(tmp_path, adaptation="finetune")
    tuned = tuner.adapt(test_demos[:2])
    assert tuned.adapt_stats["gradient_steps"] == tuner.config.adapt_batches > 0
    assert not np.allclose(first_action(tuned), first_action(agent.adapt([])))
    assert tuner.adapt([]).adapt_stats["gradient_steps"] == 0


def test_config_is_checked():
    with pytest.raises(ValueError, match="history"):
        HistoryBCAgent(config="small", history=0)
    with pytest.raises(ValueError, match="adaptation"):
        HistoryBCAgent(config="small", adaptation="maml")


def test_history_bc_through_evaluate(tiny_data_dir, suite, tmp_path):
    config = ProtocolConfig(
        splits=("test",), k_values=(0, 2), tracks=("full", "short"), short_k_values=(1,),
        short_window=10, episodes=2, max_steps=30, tasks=(suite.test[0].id,),
        train_tasks=tuple(t.id for t in suite.train[:2]), adapt_cap_s=30.0, act_cap_s=5.0,
        meta_train_cap_s=60.0,
    )  # fmt: skip
    target = "baselines.history_bc:HistoryBCAgent"
    specs = [  # the default (demonstrations ignored) and the fine-tune mode
        AgentSpec(target, {"config": "small"}, "history_bc"),
        AgentSpec(target, {"config": "small", "adaptation": "finetune"}, "history_bc_ft"),
    ]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "1 seeds is below")
        paths = evaluate(
            specs, out=tmp_path, seeds=[0], config=config, workers=1, data_dir=tiny_data_dir,
            progress=False,
        )  # fmt: skip
    steps = {}
    for path in paths:
        doc = json.loads(path.read_text())
        assert doc["meta_train"]["status"] == "ok", doc["meta_train"]["error"]
        jobs = {(j["track"], j["k"]): j for j in doc["jobs"]}
        assert sorted(jobs) == [("full", 0), ("full", 2), ("short", 1)]
        assert all(j["status"] == "ok" for j in jobs.values()), [j["error"] for j in jobs.values()]
        steps[path.parent.name] = [jobs[c]["adapt_stats"]["gradient_steps"] for c in sorted(jobs)]
    assert steps["history_bc"] == [0, 0, 0]
    assert steps["history_bc_ft"][0] == 0 and min(steps["history_bc_ft"][1:]) > 0
