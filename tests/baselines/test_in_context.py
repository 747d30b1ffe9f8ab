"""The in-context agent: its actions follow the prompt, its meta-training prompts are drawn as
the protocol draws them, acting step by step matches the training windows, and it runs through
evaluate on both tracks."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from baselines.history import DemoPool
from baselines.in_context import InContextAgent, build_prompt, transitions
from metail_envs.benchmark import AgentSpec, ProtocolConfig, evaluate


@pytest.fixture(scope="module")
def agent(train_demos) -> InContextAgent:
    agent = InContextAgent(config="small", iterations=20)
    agent.meta_train(train_demos, seed=0)
    return agent


def rollout_actions(policy, obs: np.ndarray) -> np.ndarray:
    """The actions of one episode fed the observations ``obs`` in turn."""
    policy.reset(1)
    return np.stack([policy.act(o[None], np.array([0]))[0] for o in obs])


def test_actions_change_with_the_prompt(agent, train_demos, test_demos):
    obs = np.asarray(test_demos[0].obs[:8], dtype=np.float64)
    with_test = rollout_actions(agent.adapt(test_demos[:2]), obs)
    with_train = rollout_actions(agent.adapt(next(iter(train_demos.values()))[:2]), obs)
    without = rollout_actions(agent.adapt([]), obs)
    assert not np.allclose(with_test, with_train)
    assert not np.allclose(with_test, without)
    # the prompt is a set of transitions: the order of the demonstrations does not matter
    np.testing.assert_allclose(
        rollout_actions(agent.adapt(test_demos[:2][::-1]), obs), with_test, rtol=1e-5, atol=1e-6
    )
    stats = agent.adapt(test_demos[:2]).adapt_stats
    assert stats["gradient_steps"] == 0 and stats["forward_passes"] == 1
    assert agent.adapt([]).adapt_stats == {"gradient_steps": 0, "forward_passes": 0, "examples": 0}


def test_prompt_keeps_short_windows_whole_and_strides_long_demos():
    def demo(n):
        return transitions(np.arange((n + 1) * 11).reshape(n + 1, 11), np.zeros((n, 3)))

    short = [demo(5) for _ in range(4)]
    assert np.array_equal(build_prompt(short, 20), np.concatenate(short))
    long = build_prompt([demo(100), demo(7)], 20)
    assert len(long) == 10 + 7
    np.testing.assert_array_equal(long[[0, 9]], demo(100)[[0, 99]])


def test_meta_training_prompts_are_the_protocols_windows(agent, train_demos):
    """With only short-track prompts, every prompt holds K windows of the configured length;
    the windows are drawn by the protocol's draw_demos (a different draw each sequence)."""
    order = sorted(train_demos)
    trajs = [t for tid in order for t in train_demos[tid]]
    counts = np.cumsum([0] + [len(train_demos[t]) for t in order])
    tasks = [(tid, np.arange(counts[i], counts[i + 1])) for i, tid in enumerate(order)]
    trans = [transitions(t.obs, t.acts) for t in trajs]
    short = InContextAgent(
        config="small", p_no_prompt=0.0, p_short=1.0, short_window=6, prompt_tokens=100,
        batch_size=64, window_start="offset",  # offsets: the windows' first tokens vary
    )  # fmt: skip
    short.net = short.build()
    batch = short.sample_batch(np.random.default_rng(0), DemoPool(trajs), tasks, trans)
    sizes = (~batch["pad"]).sum(1)
    assert set(sizes.tolist()) == {6, 6 * 3}  # K=1, and K=5 capped at the pool's 3 demos
    assert len({tuple(p[0].tolist()) for p in batch["prompt"]}) > 10  # windows vary
    assert batch["windows"].shape == (64, short.config.history, 2 * 11 + 3 + 2)


def test_acting_step_by_step_matches_the_decoder_on_training_windows(agent, test_demos):
    """At an episode's start, the stateful policy's action at step t is the decoder's output
    at slot t of a window from the episode's first step (what meta-training fits)."""
    demo = test_demos[0]
    obs = np.asarray(demo.obs, dtype=np.float64)
    h = agent.config.history
    policy = agent.adapt(test_demos[1:])
    policy.reset(1)
    acted = []
    for t in range(h):
        acted.append(policy.act(obs[t : t + 1], np.array([0]))[0])
        policy.episodes.acts[0, -1] = demo.acts[t]  # replay the demonstrated actions
    windows, _ = DemoPool([demo]).windows(np.array([0]), np.arange(h)[None])
    with torch.no_grad():
        want = policy.net.decode(torch.from_numpy(windows), policy.memory, policy.pad)
    np.testing.assert_allclose(np.stack(acted), want[0].clamp(-1, 1).numpy(), atol=1e-5)


def test_episodes_in_a_batch_act_as_alone_when_others_end(agent, test_demos):
    """Several episodes decoded together (one sequence, block-diagonal causal mask) act as each
    episode acting alone, also after some of them ended."""
    runs = [np.asarray(t.obs[:n], dtype=np.float64) for t, n in zip(test_demos, (9, 3, 6))]
    alone = [rollout_actions(agent.adapt(test_demos[:1]), run) for run in runs]
    together = agent.adapt(test_demos[:1])
    together.reset(3)
    got = [[] for _ in runs]
    for t in range(max(len(r) for r in runs)):
        ids = np.array([i for i, r in enumerate(runs) if t < len(r)])
        for i, a in zip(ids, together.act(np.stack([runs[i][t] for i in ids]), ids)):
            got[i].append(a)
    for i in range(len(runs)):
        np.testing.assert_allclose(np.stack(got[i]), alone[i], rtol=1e-5, atol=1e-5)


def test_saved_agent_acts_the_same(agent, test_demos, tmp_path):
    agent.save(tmp_path)
    loaded = InContextAgent.load(tmp_path)
    obs = np.asarray(test_demos[0].obs[:6], dtype=np.float64)
    np.testing.assert_array_equal(
        rollout_actions(loaded.adapt(test_demos[:1]), obs),
        rollout_actions(agent.adapt(test_demos[:1]), obs),
    )


def test_config_is_checked():
    with pytest.raises(ValueError, match="d_model"):
        InContextAgent(config="small", d_model=15, heads=2)
    with pytest.raises(ValueError, match="p_short"):
        InContextAgent(config="small", p_short=1.5)


def test_in_context_through_evaluate(tiny_data_dir, suite, tmp_path):
    config = ProtocolConfig(
        splits=("test",), k_values=(0, 2), tracks=("full", "short"), short_k_values=(1, 2),
        short_window=10, episodes=2, max_steps=30, tasks=(suite.test[0].id,),
        train_tasks=tuple(t.id for t in suite.train[:2]), adapt_cap_s=30.0, act_cap_s=5.0,
        meta_train_cap_s=60.0,
    )  # fmt: skip
    spec = AgentSpec("baselines.in_context:InContextAgent", {"config": "small"}, "in_context")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "1 seeds is below")
        (path,) = evaluate(
            [spec], out=tmp_path, seeds=[0], config=config, workers=1, data_dir=tiny_data_dir,
            progress=False,
        )  # fmt: skip
    doc = json.loads(path.read_text())
    assert doc["meta_train"]["status"] == "ok", doc["meta_train"]["error"]
    jobs = {(j["track"], j["k"]): j for j in doc["jobs"]}
    assert sorted(jobs) == [("full", 0), ("full", 2), ("short", 1), ("short", 2)]
    assert all(j["status"] == "ok" for j in jobs.values()), [j["error"] for j in jobs.values()]
    assert jobs[("short", 2)]["adapt_stats"] == {
        "gradient_steps": 0, "forward_passes": 1, "examples": 20,
    }  # fmt: skip
