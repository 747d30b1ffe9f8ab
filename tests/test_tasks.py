"""Tasks, the seeded sampler, the frozen suites, task switching and vector envs."""

from __future__ import annotations

import json
import math
import pickle

import gymnasium as gym
import numpy as np
import pytest
from envtools import make, rollout
from test_env import assert_same_rollouts

from metail_envs import ENV_ID, LogUniform, Ring, Task, TaskSampler, Uniform, load_suite
from metail_envs.hopper_model import torque_to_weight
from metail_envs.tasks import freeze_suite, suite_path


def test_task_is_an_immutable_hashable_json_value():
    t = Task({"mass": 1.2, "friction": 0.8, "damping": 1.0})
    assert t.params == {"friction": 0.8, "mass": 1.2}  # defaults are dropped
    assert t == Task({"friction": 0.8, "mass": 1.2}) and hash(t) == hash(Task(t.params))
    assert len({t, Task(t.params), Task({"mass": 1.3})}) == 2
    assert Task.from_json(json.loads(json.dumps(t.to_json()))) == t
    with pytest.raises(AttributeError):
        t.id = "other"  # type: ignore[misc]
    t.params["mass"] = 5.0
    assert t.params["mass"] == 1.2
    with pytest.raises(TypeError):
        t.values["mass"] = 5.0  # type: ignore[index]
    assert pickle.loads(pickle.dumps(t)) == t and t.values["mass"] == 1.2


def test_task_builds_its_env_either_way():
    t = Task({"mass": 1.2, "leg_length": 0.9})
    a, b = make(task=t), make(**t.params)
    acts = np.full((60, 3), 0.2, dtype=np.float32)
    assert_same_rollouts(rollout(a, acts, seed=0), rollout(b, acts, seed=0), atol=0.0)
    assert a.unwrapped.get_task() == t


def test_sampler_is_seeded_and_leaves_the_global_rng_alone():
    dists = {"mass": LogUniform(0.5, 2.0), "com_offset": Uniform(-0.05, 0.05)}
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    a = TaskSampler(dists, seed=7).sample(20)
    assert np.random.random() == before
    assert a == TaskSampler(dists, seed=7).sample(20)
    assert a != TaskSampler(dists, seed=8).sample(20)
    masses = [t.values["mass"] for t in a]
    assert min(masses) >= 0.5 and max(masses) <= 2.0
    assert any(m < 0.8 for m in masses) and any(m > 1.25 for m in masses)


def test_log_uniform_is_symmetric_in_log_space():
    rng = np.random.default_rng(0)
    x = np.log([LogUniform(0.5, 2.0).sample(rng) for _ in range(4000)])
    assert abs(x.mean()) < 0.03


def test_ring_samples_only_outside_the_inner_range():
    ring = Ring(LogUniform(0.5, 2.0), 0.3, 3.0)
    rng = np.random.default_rng(0)
    xs = np.array([ring.sample(rng) for _ in range(2000)])
    assert np.all(((xs >= 0.3) & (xs <= 0.5)) | ((xs >= 2.0) & (xs <= 3.0)))
    assert 0.2 < np.mean(xs < 1) < 0.8  # both sides, weighted by log-length


def test_sampler_refuses_ranges_outside_the_registry():
    with pytest.raises(ValueError, match=r"mass.*\[0.1, 10\]"):
        TaskSampler({"mass": Uniform(0.01, 2.0)})


def test_hopper_v0_splits(suite):
    assert (len(suite.train), len(suite.test), len(suite.ood)) == (40, 10, 10)
    ids = [t.id for t in suite.tasks]
    assert len(set(ids)) == len(ids) == 61 and suite.nominal.params == {}
    assert not set(suite.train) & set(suite.test)
    dist = suite.definition["distribution"]
    for task in suite.train + suite.test:
        for name, spec in dist.items():
            assert spec["low"] <= task.values[name] <= spec["high"]
        low, high = suite.definition["torque_to_weight"]
        assert low <= torque_to_weight(task.values) <= high
    ood = suite.definition["ood"]
    for task in suite.ood:
        outside = [n for n, s in dist.items() if not s["low"] <= task.values[n] <= s["high"]]
        assert len(outside) == ood["params_per_task"]


@pytest.mark.parametrize("name", ["hopper-v0", "hopper-v1", "hopper-rand-params-v0"])
def test_frozen_split_files_are_what_their_seed_draws(name, tmp_path):
    committed = suite_path(name).read_text()
    definition = json.loads(committed)["definition"]
    assert freeze_suite(definition, tmp_path / "s.json").read_text() == committed
    with pytest.raises(FileExistsError, match="new suite version"):
        changed = definition | {"seed": definition["seed"] + 1}
        freeze_suite(changed, suite_path(name))


def test_rand_params_family_matches_pearl_ranges():
    suite = load_suite("hopper-rand-params-v0")
    assert len(suite.train) == 40 and len(suite.test) == 10
    for t in suite.train:
        v = t.values
        assert all(1.5**-3 <= v[f"{b}_mass"] <= 1.5**3 for b in ("torso", "thigh", "leg", "foot"))
        assert 1.3**-3 <= v["damping"] <= 1.3**3 and 1.5**-3 <= v["friction"] <= 1.5**3


def test_unknown_suite_and_split():
    with pytest.raises(ValueError, match="available"):
        load_suite("hopper-v9")
    with pytest.raises(ValueError, match="split"):
        load_suite("hopper-v1").split("validation")


def test_set_task_then_reset_equals_a_fresh_env(suite, actions):
    live = make()
    live.reset(seed=0)
    for task in (suite.test[0], suite.test[1], suite.nominal):  # geometry changes both ways
        live.unwrapped.set_task(task)
        assert live.unwrapped.get_task() != task or task == suite.nominal  # applies at reset
        got = rollout(live, actions[:150], seed=5)
        want = rollout(make(task=task), actions[:150], seed=5)
        assert live.unwrapped.get_task() == task
        assert_same_rollouts(got, want, atol=0.0)


def test_sample_tasks_is_seeded_by_reset():
    a, b = make(), make()
    a.reset(seed=3)
    b.reset(seed=3)
    ta, tb = a.unwrapped.sample_tasks(5), b.unwrapped.sample_tasks(5)
    assert ta == tb and len(set(ta)) == 5
    b.reset(seed=4)
    assert b.unwrapped.sample_tasks(5) != ta


def test_gymnasium_vector_env_with_a_task_per_sub_env(suite):
    tasks = [suite.test[0], suite.test[1], suite.nominal]
    venv = gym.vector.SyncVectorEnv([lambda t=t: gym.make(ENV_ID, task=t) for t in tasks])
    obs, info = venv.reset(seed=0)
    assert obs.shape == (3, 11)
    assert [t.id for t in venv.call("get_task")] == [t.id for t in tasks]
    venv.call("set_task", suite.ood[0])
    venv.reset(seed=1)
    assert {t.id for t in venv.call("get_task")} == {suite.ood[0].id}


def test_sb3_subproc_vec_env_with_a_task_per_sub_env(suite):
    from stable_baselines3.common.vec_env import SubprocVecEnv

    tasks = [suite.test[2], suite.test[3]]
    venv = SubprocVecEnv([lambda t=t: gym.make(ENV_ID, task=t) for t in tasks])
    try:
        venv.reset()
        masses = venv.env_method("get_task")
        assert [t.id for t in masses] == [t.id for t in tasks]
        venv.env_method("set_task", suite.nominal, indices=[1])
        venv.reset()
        assert venv.env_method("get_task", indices=[1])[0] == suite.nominal
        obs, rewards, dones, infos = venv.step(np.zeros((2, 3), dtype=np.float32))
        assert obs.shape == (2, 11) and np.all(np.isfinite(rewards))
    finally:
        venv.close()


def test_dynamics_switch_keeps_the_compiled_model(suite):
    env = make()
    env.reset(seed=0)
    model = env.unwrapped.model
    env.unwrapped.set_task(Task({"mass": 1.7, "friction": 0.6}))
    env.reset()
    assert env.unwrapped.model is model  # in place, no recompilation
    env.unwrapped.set_task(Task({"leg_length": 0.9}))
    env.reset()
    assert env.unwrapped.model is not model
    new = env.unwrapped.model
    assert math.isclose(new.geom("leg_geom").size[1], 0.9 * model.geom("leg_geom").size[1])


@pytest.mark.parametrize("name", ["hopper-v0", "hopper-v1", "hopper-rand-params-v0"])
def test_every_committed_task_passes_the_suite_id_check(name):
    from metail_envs.tasks import check_suite_task

    for task in load_suite(name).tasks:
        check_suite_task(task)
        check_suite_task(pickle.loads(pickle.dumps(task)))  # unpickled through Task(...)
        assert Task.from_json(task.to_json()) == task
