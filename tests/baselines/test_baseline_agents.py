"""Every baseline through the Agent interface on tiny real data: meta-train, adapt, act, save,
load; adaptation never touches the meta-trained parameters; K=0 is the meta-trained policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.base import load_config
from baselines.bc import BCAgent
from baselines.conditioned import ConditionedAgent
from baselines.joint import JointAgent
from baselines.maml_bc import MAMLBCAgent
from baselines.single_task_bc import SingleTaskBCAgent
from metail_envs.benchmark import Agent, resolve_agent

AGENTS = [BCAgent, MAMLBCAgent, JointAgent, ConditionedAgent, SingleTaskBCAgent]
META_TRAINED = [BCAgent, MAMLBCAgent, JointAgent, ConditionedAgent]


@pytest.fixture(scope="module")
def trained(train_demos) -> dict[type, Agent]:
    agents = {}
    for cls in AGENTS:
        agent = cls(config="small")
        agent.meta_train(train_demos, seed=0)
        agents[cls] = agent
    return agents


@pytest.fixture(scope="module")
def obs(test_demos) -> np.ndarray:
    return np.concatenate([t.obs for t in test_demos]).astype(np.float64)


def _state(agent) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in agent.net.state_dict().items()}


def _actions(agent, demos, obs, seed: int = 0) -> np.ndarray:
    torch.manual_seed(seed)  # the runner seeds torch before each adapt
    return agent.adapt(demos).act(obs)


@pytest.mark.parametrize("cls", AGENTS, ids=lambda c: c.config_name)
@pytest.mark.parametrize("k", [0, 1, 3])
def test_meta_train_adapt_act(trained, cls, k, test_demos, obs):
    agent = trained[cls]
    a = _actions(agent, test_demos[:k], obs)
    assert a.shape == (len(obs), 3) and a.dtype == np.float64
    assert np.all(np.isfinite(a)) and np.all(np.abs(a) <= 1.0)
    np.testing.assert_array_equal(a, _actions(agent, test_demos[:k], obs))  # seeded adapt
    policy = agent.adapt(test_demos[:k])
    np.testing.assert_array_equal(policy.act(obs), policy.act(obs))  # deterministic act
    # one observation at a time gives the batch's actions
    np.testing.assert_allclose(_actions(agent, test_demos[:k], obs[:1]), a[:1], atol=1e-6)


@pytest.mark.parametrize("cls", META_TRAINED, ids=lambda c: c.config_name)
def test_adapt_leaves_meta_trained_parameters_unchanged(trained, cls, test_demos, obs):
    agent = trained[cls]
    before = _state(agent)
    k0 = _actions(agent, [], obs)
    adapted = _actions(agent, test_demos, obs)
    after = _state(agent)
    assert before.keys() == after.keys()
    for name in before:
        torch.testing.assert_close(after[name], before[name], rtol=0, atol=0)
    np.testing.assert_array_equal(_actions(agent, [], obs), k0)
    assert not np.allclose(adapted, k0), "adapting on 3 demos changed nothing"


@pytest.mark.parametrize("cls", AGENTS, ids=lambda c: c.config_name)
def test_save_load_round_trip(trained, cls, tmp_path, test_demos, obs):
    agent = trained[cls]
    agent.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.json", "model.pt"]
    loaded = cls.load(tmp_path)
    assert loaded.config == agent.config and loaded.log == agent.log
    for k in (0, 2):
        np.testing.assert_array_equal(
            _actions(loaded, test_demos[:k], obs), _actions(agent, test_demos[:k], obs)
        )


def test_load_refuses_another_agents_checkpoint(trained, tmp_path):
    trained[MAMLBCAgent].save(tmp_path)
    with pytest.raises(TypeError, match="MAMLBCAgent"):
        JointAgent.load(tmp_path)


@pytest.mark.parametrize("cls", META_TRAINED, ids=lambda c: c.config_name)
def test_same_seed_same_agent(trained, cls, train_demos, obs):
    again = cls(config="small")
    again.meta_train(train_demos, seed=0)
    np.testing.assert_array_equal(_actions(again, [], obs), _actions(trained[cls], [], obs))
    other = cls(config="small")
    other.meta_train(train_demos, seed=1)
    assert not np.array_equal(_actions(other, [], obs), _actions(trained[cls], [], obs))


def test_k0_is_the_meta_trained_policy(trained, obs):
    x = torch.as_tensor(obs, dtype=torch.float32)
    with torch.no_grad():
        for cls in (MAMLBCAgent, JointAgent):
            expected = trained[cls].net.policy(x)[0].clamp(-1, 1).numpy()
            np.testing.assert_allclose(_actions(trained[cls], [], obs), expected, atol=1e-6)
        bc = trained[BCAgent].net
        expected = bc.get_distribution(x).distribution.mean.clamp(-1, 1).numpy()
        np.testing.assert_allclose(_actions(trained[BCAgent], [], obs), expected, atol=1e-6)
        net = trained[ConditionedAgent].net
        expected = net.policy(x, net.no_context)[0].clamp(-1, 1).numpy()
        np.testing.assert_allclose(
            _actions(trained[ConditionedAgent], [], obs), expected, atol=1e-6
        )


def test_entry_point_targets_resolve():
    for cls in AGENTS:
        assert resolve_agent(f"{cls.__module__}:{cls.__qualname__}") is cls


def test_config_overrides_and_refusals():
    agent = MAMLBCAgent(config="small", inner_steps=3)
    assert agent.config["inner_steps"] == 3
    assert agent.config["hidden"] == load_config("maml_bc", "small")["hidden"]
    with pytest.raises(ValueError, match="unknown hyperparameters.*inner_stpes"):
        MAMLBCAgent(inner_stpes=3)
    with pytest.raises(ValueError, match="accepted.*small"):
        MAMLBCAgent(config="huge")
    with pytest.raises(RuntimeError, match="meta_train first"):
        MAMLBCAgent(config="small").adapt([])


def test_configs_use_the_same_keys_in_every_named_config():
    for name in ("bc", "maml_bc", "joint", "conditioned", "single_task_bc"):
        default = load_config(name)
        assert set(load_config(name, "small")) == set(default)
