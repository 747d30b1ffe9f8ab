"""Every baseline through the Agent interface on tiny real data: meta-train, adapt, act, save,
load; adaptation never touches the meta-trained parameters; K=0 is the meta-trained policy;
every adapted policy reports its budget; typed configs refuse what they do not know."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
import torch

from baselines.base import ADAPT_STAT_KEYS
from baselines.bc import BCAgent
from baselines.conditioned import ConditionedAgent
from baselines.history_bc import HistoryBCAgent
from baselines.in_context import InContextAgent
from baselines.joint import JointAgent, JointConfig
from baselines.maml_bc import MAMLBCAgent, MAMLBCConfig
from baselines.single_task_bc import SingleTaskBCAgent
from metail_envs.benchmark import Agent, resolve_agent
from metail_envs.benchmark.jobs import cut
from metail_envs.benchmark.protocol import DemoWindow

AGENTS = [BCAgent, MAMLBCAgent, JointAgent, ConditionedAgent, SingleTaskBCAgent]
META_TRAINED = [BCAgent, MAMLBCAgent, JointAgent, ConditionedAgent]
CHECKPOINTS = Path(__file__).resolve().parents[2] / "results" / "checkpoints"
SHORT_NAMES = {
    BCAgent: "bc",
    MAMLBCAgent: "maml_bc",
    JointAgent: "joint",
    ConditionedAgent: "conditioned",
    SingleTaskBCAgent: "single_task_bc",
}


def _id(cls: type) -> str:
    return SHORT_NAMES[cls]


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


@pytest.mark.parametrize("cls", AGENTS, ids=_id)
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


@pytest.mark.parametrize("cls", META_TRAINED, ids=_id)
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


@pytest.mark.parametrize("cls", AGENTS, ids=_id)
def test_save_load_round_trip(trained, cls, tmp_path, test_demos, obs):
    agent = trained[cls]
    agent.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.json", "model.pt"]
    assert "agent.pkl" not in {p.name for p in tmp_path.iterdir()}
    torch.load(tmp_path / "model.pt", weights_only=True)  # tensors only, no pickled objects
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


@pytest.mark.parametrize("cls", META_TRAINED, ids=_id)
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


@pytest.mark.parametrize("cls", AGENTS, ids=_id)
def test_every_adapted_policy_reports_its_budget(trained, cls, test_demos):
    assert isinstance(cls.adaptation_budget, str) and cls.adaptation_budget
    zero = trained[cls].adapt([]).adapt_stats
    assert zero == dict.fromkeys(ADAPT_STAT_KEYS, 0)
    stats = trained[cls].adapt(test_demos[:2]).adapt_stats
    assert set(stats) <= set(ADAPT_STAT_KEYS) and all(type(v) is int for v in stats.values())
    n_pairs = sum(len(t.acts) for t in test_demos[:2])
    c = trained[cls].config
    if cls is BCAgent:  # the small configs' budgets, written out
        expected = (c.adapt_batches, c.adapt_batches, c.adapt_batches * c.adapt_batch_size)
    elif cls is SingleTaskBCAgent:
        expected = (c.n_batches, c.n_batches, c.n_batches * c.batch_size)
    elif cls in (MAMLBCAgent, JointAgent):  # the guard's losses: 2 passes a step, plus one
        n = min(n_pairs, 2 * c.adapt_window)
        passes = 2 * c.inner_steps + 1
        expected = (c.inner_steps, passes, passes * n)
    else:
        expected = (0, 1, n_pairs)
    assert (stats["gradient_steps"], stats["forward_passes"], stats["examples"]) == expected


def test_fine_tune_epoch_cap_binds_only_on_few_pairs(trained, test_demos, tmp_path, obs):
    """``adapt_max_epochs``: at most that many passes over the K demos' pairs; where the cap does
    not bind, the fine-tune is the uncapped one, bit for bit."""
    trained[BCAgent].save(tmp_path)
    window = [cut(test_demos[0], DemoWindow(0, 0, 8))]  # 8 pairs: batches of 8 (small: 16)
    capped = BCAgent.load(tmp_path, adapt_max_epochs=3)
    uncapped = BCAgent.load(tmp_path, adapt_max_epochs=None)
    assert capped.adapt(window).adapt_stats["gradient_steps"] == 3  # not small's 10
    assert uncapped.adapt(window).adapt_stats["gradient_steps"] == 10
    loose = BCAgent.load(tmp_path, adapt_max_epochs=1000)
    torch.manual_seed(0)
    a = loose.adapt(test_demos[:1]).act(obs)
    torch.manual_seed(0)
    b = uncapped.adapt(test_demos[:1]).act(obs)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="adapt_max_epochs=0 is invalid; accepted: None or >= 1"):
        BCAgent(config="small", adapt_max_epochs=0)


def test_fine_tune_holdout_keeps_the_prior_when_the_held_out_pairs_say_so(
    trained, test_demos, tmp_path
):
    """``adapt_holdout``: the last part of each demo is held out and the parameters with the
    lowest error on it are kept. Held-out actions that are the prior's own (error 0 before any
    step) keep the prior however the first part pulls; without a holdout the fit moves it."""
    from metail_envs.trajectory import make_trajectory

    trained[BCAgent].save(tmp_path)
    prior = BCAgent.load(tmp_path).adapt([])
    demo = cut(test_demos[0], DemoWindow(0, 0, 20))
    acts = prior.mean_fn(torch.from_numpy(demo.obs[:-1].astype(np.float32))).numpy()
    acts[:16] += 0.5  # the part the fit sees: pulled away
    demo = make_trajectory(obs=demo.obs, acts=acts, infos=None, terminal=False, rews=demo.rews)
    held = BCAgent.load(tmp_path, adapt_holdout=0.2, adapt_eval_every=2, adapt_max_epochs=None)
    kept = held.adapt([demo])
    np.testing.assert_array_equal(kept.act(demo.obs), prior.act(demo.obs))
    steps = held.config.adapt_batches
    assert kept.adapt_stats["gradient_steps"] == steps
    assert kept.adapt_stats["forward_passes"] == steps + steps // 2 + 1  # + the held-out checks
    moved = BCAgent.load(tmp_path, adapt_holdout=0.0, adapt_max_epochs=None).adapt([demo])
    assert not np.array_equal(moved.act(demo.obs), prior.act(demo.obs))
    with pytest.raises(ValueError, match=r"adapt_holdout=1.0 is invalid; accepted: \[0, 1\)"):
        BCAgent(config="small", adapt_holdout=1.0)


def test_fine_tune_prior_pull_reaches_the_ridge_solution_centred_on_the_start():
    """``prior_weight`` = λ: the fit minimises mean squared error + λ/n |w - w0|², whose minimiser
    is (XᵀX + λI)⁻¹ (Xᵀy + λ w0): a Gaussian prior on w0 against the *summed* error, so the same
    λ pulls hard on few pairs and fades as they grow (here: the same pairs, twice). Batches are
    drawn with replacement, so the fit ends within a small noise of the minimiser."""
    from types import SimpleNamespace

    from baselines.finetune import fit_mean_action

    gen = np.random.default_rng(0)
    x = gen.normal(size=(100, 2)).astype(np.float32)
    y = (x @ np.array([2.0, -1.0]) + 0.1 * gen.normal(size=100)).astype(np.float32)[:, None]
    w0 = np.array([[-1.0, 1.0]], dtype=np.float32)
    weight = 100.0
    fitted = {}
    for copies in (1, 2):
        demos = [SimpleNamespace(obs=np.vstack([x, x[:1]]), acts=y)] * copies
        X, Y = np.vstack([x] * copies).astype(np.float64), np.vstack([y] * copies)
        torch.manual_seed(0)
        linear = torch.nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w0))
        fit_mean_action(
            linear, demos, n_batches=1500, batch_size=len(X), lr=3e-3, mean_fn=linear,
            prior_weight=weight,
        )  # fmt: skip
        fitted[copies] = linear.weight.detach().numpy()[0]
        ridge = np.linalg.solve(X.T @ X + weight * np.eye(2), X.T @ Y + weight * w0.T)[:, 0]
        np.testing.assert_allclose(fitted[copies], ridge, atol=0.03)
    assert np.abs(fitted[2] - fitted[1]).min() > 0.2  # twice the pairs: half the pull
    with pytest.raises(ValueError, match=r"adapt_prior_weight=-1.0 is invalid; accepted: >= 0"):
        BCAgent(config="small", adapt_prior_weight=-1.0)


def test_fine_tune_prior_pull_reaches_the_agents(trained, test_demos, tmp_path, obs):
    """Through ``adapt``: a heavy pull leaves the adapted policy nearer its prior than no pull."""
    trained[BCAgent].save(tmp_path)
    prior = BCAgent.load(tmp_path).adapt([]).act(obs)
    moved = {}
    for weight in (0.0, 1e4):
        agent = BCAgent.load(tmp_path, adapt_prior_weight=weight, adapt_batches=200, adapt_lr=1e-2)
        torch.manual_seed(0)
        moved[weight] = np.abs(agent.adapt(test_demos[:1]).act(obs) - prior).mean()
    assert moved[1e4] < 0.2 * moved[0.0]


def test_fine_tune_holdout_splits_each_demo_in_time():
    """The first ``1 - fraction`` of each demo's pairs are fitted, the rest held out, at least
    one pair left to fit; nothing held out gives no held-out set."""
    from types import SimpleNamespace

    from baselines.finetune import holdout_split

    demos = [
        SimpleNamespace(obs=np.arange(11.0)[:, None], acts=np.arange(10.0)[:, None]),
        SimpleNamespace(obs=np.arange(3.0)[:, None], acts=100 + np.arange(2.0)[:, None]),
    ]
    (fit_obs, fit_acts), (held_obs, held_acts) = holdout_split(demos, 0.3)
    assert fit_acts.flatten().tolist() == [0, 1, 2, 3, 4, 5, 6, 100, 101]
    assert held_acts.flatten().tolist() == [7, 8, 9]
    assert held_obs.flatten().tolist() == [7, 8, 9]
    assert holdout_split(demos[1:], 0.3)[1] is None
    assert holdout_split(demos, 0.0)[1] is None


def test_config_overrides_and_refusals():
    agent = MAMLBCAgent(config="small", inner_steps=2)
    assert agent.config.inner_steps == 2
    assert agent.config.hidden == MAMLBCConfig.named("small").hidden == (16, 16)
    with pytest.raises(dataclasses.FrozenInstanceError):
        agent.config.inner_steps = 3
    with pytest.raises(
        ValueError, match=r"unknown hyperparameter 'inner_stpes'.*accepted.*inner_steps"
    ):
        MAMLBCAgent(inner_stpes=3)
    with pytest.raises(ValueError, match="accepted.*small"):
        MAMLBCAgent(config="huge")
    with pytest.raises(ValueError, match="adaptation='inner'.*accepted.*finetune"):
        JointAgent(adaptation="inner")
    with pytest.raises(TypeError, match="inner_steps=2.5 must be of type int"):
        MAMLBCAgent(inner_steps=2.5)
    with pytest.raises(ValueError, match="inner_lr=0.2.*max_inner_lr"):
        MAMLBCAgent(inner_lr=0.2, max_inner_lr=0.1)
    with pytest.raises(ValueError, match="unknown hyperparameter 'ml_weight'"):
        MAMLBCAgent(ml_weight=1.0)  # joint's field, not MAML-BC's
    with pytest.raises(RuntimeError, match="meta_train first"):
        MAMLBCAgent(config="small").adapt([])


def test_a_config_object_builds_the_same_agent():
    config = JointConfig.named("small", ml_weight=0.25)
    assert JointAgent(config=config).config == config == JointAgent("small", ml_weight=0.25).config
    with pytest.raises(TypeError, match="not a JointConfig"):
        JointAgent(config=MAMLBCConfig.named("small"))


@pytest.mark.parametrize("cls", AGENTS, ids=_id)
def test_every_named_config_resolves_to_every_field(cls):
    names = {n for p in cls.config_cls.files() for n in json.loads(p.read_text())}
    for name in names:
        config = cls.config_cls.named(name)
        assert config.to_json().keys() == {f.name for f in dataclasses.fields(config)}


@pytest.mark.parametrize("cls", [*AGENTS, HistoryBCAgent, InContextAgent], ids=lambda c: c.__name__)
def test_every_ranged_field_refuses_a_value_outside_its_range(cls):
    """The range a field's type carries (``PositiveInt``, ``Probability``...) is enforced and named."""
    hints = typing.get_type_hints(cls.config_cls, include_extras=True)
    ranged = {
        name: typing.get_args(h) for name, h in hints.items() if typing.get_origin(h) is Annotated
    }
    assert ranged, f"{cls.config_cls.__name__} declares no field range"
    outside = {
        "> 0": 0,
        ">= 0": -1,
        "[0, 1]": 1.5,
        "[0, 1)": 1,
        "positive layer widths": [8, 0],
        "None or >= 1": 0,
    }
    for name, (base, accepted) in ranged.items():
        bad = outside[accepted.text]
        bad = float(bad) if base is float else bad
        with pytest.raises(
            ValueError, match=rf"{name}=.* is invalid; accepted: {re.escape(accepted.text)}"
        ):
            cls.config_cls.named("small", **{name: bad})


@pytest.mark.parametrize(
    "cls, kwargs",
    [(HistoryBCAgent, {"adaptation": "finetune"}), (InContextAgent, {})],
    ids=["history_bc", "in_context"],
)
def test_tasks_without_demonstrations_are_skipped(train_demos, test_demos, cls, kwargs):
    """The shipped data has training tasks whose expert always fell: no demonstrations."""
    agent = cls(config="small", **kwargs)
    agent.meta_train({**train_demos, "hopper-v1/train/08": []}, seed=0)
    assert agent.adapt(test_demos[:1]).adapt_stats["examples"] > 0
    with pytest.raises(ValueError, match="no demonstrations"):
        cls(config="small").meta_train({"hopper-v1/train/08": []}, seed=0)


def test_joint_config_extends_maml_bc_without_repeating_it():
    assert issubclass(JointConfig, MAMLBCConfig)
    own = json.loads((JointConfig.files()[-1]).read_text())
    parent = MAMLBCConfig.resolve("default")
    for name, values in own.items():
        repeated = {k for k, v in values.items() if parent.get(k, object()) == v}
        assert not repeated, f"joint.json[{name!r}] repeats maml_bc's {sorted(repeated)}"
    joint, maml = JointConfig.named("small"), MAMLBCConfig.named("small")
    assert {k: v for k, v in joint.to_json().items() if k in maml.to_json()} == maml.to_json()


def test_old_checkpoint_versions_are_refused_clearly(trained, tmp_path):
    trained[MAMLBCAgent].save(tmp_path)
    meta = json.loads((tmp_path / "agent.json").read_text())
    del meta["version"]  # as written before bounded Meta-SGD rates
    (tmp_path / "agent.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="version-1 checkpoint of MAMLBCAgent.*meta-train"):
        MAMLBCAgent.load(tmp_path)


@pytest.mark.parametrize("cls", AGENTS, ids=_id)
def test_shipped_checkpoints_load_or_are_refused_clearly(cls, obs):
    """Every shipped checkpoint is tensors and JSON only; one of the agent's current version
    loads and adapts, an older one (MAML-BC and joint before bounded Meta-SGD rates) is refused
    with a ValueError that says to meta-train again. An agent with committed result files has
    a checkpoint per file (the v3 re-score commits both as it goes)."""
    paths = sorted((CHECKPOINTS / _id(cls)).glob("seed_*"))
    files = sorted((CHECKPOINTS.parent / "results" / _id(cls)).glob("seed_*.json"))
    assert [p.name for p in paths] == [f.stem for f in files], f"{_id(cls)}: {paths} != {files}"
    for path in paths:
        torch.load(path / "model.pt", weights_only=True)
        version = json.loads((path / "agent.json").read_text()).get("version", 1)
        if version == cls.checkpoint_version:
            policy = cls.load(path).adapt([])  # K=0: cheap; K>0 is tested on the tiny agents
            assert np.all(np.isfinite(policy.act(obs))) and "adapt_stats" in vars(policy)
        else:
            with pytest.raises(ValueError, match="meta-train the agent again"):
                cls.load(path)


def test_a_checkpoint_whose_weights_do_not_fit_is_refused_clearly(trained, tmp_path):
    trained[JointAgent].save(tmp_path)
    meta = json.loads((tmp_path / "agent.json").read_text())
    meta["config"]["hidden"] = [7]
    (tmp_path / "agent.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="model.pt does not match JointAgent"):
        JointAgent.load(tmp_path)
