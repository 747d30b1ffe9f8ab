"""HopperVariant-v0 as a Gymnasium environment: parity with Hopper-v4, API checks, rendering."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from envtools import make, rollout
from gymnasium.utils.env_checker import check_env

from metail_envs import ENV_ID


def assert_same_rollouts(a: list[tuple], b: list[tuple], atol: float) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x[0], y[0], rtol=0, atol=atol)
        if len(x) > 1:
            assert abs(x[1] - y[1]) <= atol and x[2:] == y[2:]


def test_default_is_hopper_v4_to_1e9(actions):
    ours = rollout(make(), np.tile(actions, (3, 1)), seed=7)
    ref = rollout(gym.make("Hopper-v4"), np.tile(actions, (3, 1)), seed=7)
    assert sum(len(s) == 1 for s in ref) > 3  # several episodes, resets included
    assert_same_rollouts(ours, ref, atol=1e-9)


def test_registered_with_hopper_v4_episode_length():
    assert gym.spec(ENV_ID).max_episode_steps == 1000


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mass": 1.3, "thigh_length": 0.8, "friction": 0.6},
        {"observe_context": True, "gravity": 1.2},
    ],
)
def test_gymnasium_and_sb3_env_checkers(kwargs):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env  # [benchmark]

    env = make(**kwargs).unwrapped
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*infinity.*"
        )  # Hopper-v4's Box is unbounded too
        check_env(env, skip_render_check=True)
        sb3_check_env(env)


def test_observe_context_appends_normalised_params(suite):
    from metail_envs.params import PARAMS

    task = suite.test[0]
    obs, info = make(task=task, observe_context=True).reset(seed=0)
    plain, _ = make(task=task).reset(seed=0)
    assert obs.shape == (11 + len(PARAMS),)
    np.testing.assert_array_equal(obs[:11], plain)
    context = dict(zip((p.name for p in PARAMS), obs[11:]))
    assert context["gravity"] == 0.0  # a default is 0
    assert np.sign(context["mass"]) == np.sign(np.log(task.values["mass"]))
    assert np.all(np.abs(obs[11:]) <= 1.0)
    assert info["task"] == task


def test_info_always_carries_the_task():
    env = make(mass=1.5)
    _, info = env.reset(seed=0)
    assert info["task"].params == {"mass": 1.5}
    _, _, _, _, info = env.step(env.action_space.sample())
    assert info["task"].params == {"mass": 1.5}


def test_rgb_array_renders_headless():
    env = make(render_mode="rgb_array", width=64, height=48)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8 and frame.std() > 5
    env.close()


def test_import_is_light():
    code = (
        "import sys, gymnasium as gym, metail_envs; gym.make('metail/HopperVariant-v0', mass=1.2);"
        "print(sorted(m for m in ('torch', 'stable_baselines3', 'imitation') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_same_seed_same_episode():
    a, b = make(friction=0.7), make(friction=0.7)
    acts = np.full((50, 3), 0.3, dtype=np.float32)
    assert_same_rollouts(rollout(a, acts, seed=3), rollout(b, acts, seed=3), atol=0.0)


@pytest.mark.parametrize("terminate", [True, False])
def test_info_reports_the_reward_terms_as_hopper_v5(actions, terminate):
    env = make(terminate_when_unhealthy=terminate)
    _, info = env.reset(seed=0)
    z0 = env.unwrapped.model.qpos0[1]
    assert info["x_position"] == env.unwrapped.data.qpos[0]
    assert info["z_distance_from_origin"] == env.unwrapped.data.qpos[1] - z0
    survive = set()
    for a in actions[:300]:
        obs, reward, terminated, truncated, info = env.step(a)
        terms = info["reward_forward"] + info["reward_survive"] + info["reward_ctrl"]
        assert reward == terms  # exactly: the same operations in the same order
        assert info["reward_forward"] == info["x_velocity"]
        assert info["reward_ctrl"] == pytest.approx(-1e-3 * np.sum(np.square(a.astype(float))))
        assert info["z_distance_from_origin"] == pytest.approx(obs[0] - z0)
        survive.add(info["reward_survive"])
        if terminated or truncated:
            env.reset(seed=1)
    assert survive == ({1.0} if terminate else {0.0, 1.0})  # 0 only when unhealthy and not ending


def test_documented_as_gymnasium_documents_its_environments():
    import inspect

    from metail_envs import hopper
    from metail_envs.params import MIN_JOINT_RANGE_DEG, PARAMS, markdown_table

    doc = "\n" + inspect.cleandoc(hopper.HopperVariantEnv.__doc__)
    sections = ["Description", "Action Space", "Observation Space", "Rewards", "Starting State"]
    sections += ["Episode End", "Arguments", "Version History"]
    at = [doc.index(f"\n## {s}\n") for s in sections]
    assert at == sorted(at)
    observations = doc[at[2] : at[3]]
    assert all(f"\n| {i} " in observations for i in range(hopper.OBS_DIM))
    assert markdown_table() in doc and all(f"`{p.name}`" in doc for p in PARAMS)  # generated
    assert "<the parameter table" not in doc
    assert f"[1, {hopper.MAX_RENDER_SIZE}]" in doc and f"{MIN_JOINT_RANGE_DEG:g} deg below" in doc
    assert all(
        term in doc[at[3] : at[4]] for term in ("reward_forward", "reward_ctrl", "reward_survive")
    )
    assert len(hopper.__doc__.splitlines()) <= 10  # the module docstring points to the class
