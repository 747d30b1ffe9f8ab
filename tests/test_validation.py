"""Bad input fails early with an error naming the parameter and its accepted range."""

from __future__ import annotations

import math

import numpy as np
import pytest
from envtools import make

from metail_envs import Task


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"masss": 1.2}, TypeError, ["masss", "known parameters", "mass"]),
        ({"mass": 0.0}, ValueError, ["mass", "[0.1, 10]"]),
        ({"friction": -1.0}, ValueError, ["friction", "[0.05, 10]"]),
        ({"gravity": math.nan}, ValueError, ["gravity", "[0.1, 3]"]),
        ({"actuator_strength": math.inf}, ValueError, ["actuator_strength", "[0.1, 5]"]),
        ({"damping": "2"}, TypeError, ["damping", "real number", "str"]),
        ({"mass": True}, TypeError, ["mass", "bool"]),
        ({"leg_length": 3.0}, ValueError, ["leg_length", "[0.5, 1.5]"]),
        ({"com_offset": 0.5}, ValueError, ["com_offset", "[-0.2, 0.2] m"]),
        (
            {"hip_low_deg": 10.0, "hip_high_deg": 5.0},
            ValueError,
            ["hip_low_deg=10", "below", "hip_high_deg=5"],
        ),  # noqa: E501
        (
            {"ankle_low_deg": -170.0, "ankle_range_scale": 1.2},
            ValueError,
            ["ankle_range_scale", "180"],
        ),  # noqa: E501
    ],
)
def test_bad_parameters_are_refused_before_mujoco(kwargs, error, words):
    with pytest.raises(error) as info:
        make(**kwargs)
    for w in words:
        assert w in str(info.value)
    with pytest.raises(error):
        Task(kwargs)


def test_bad_env_options():
    with pytest.raises(ValueError, match="render_mode"):
        make(render_mode="ansi")
    with pytest.raises(TypeError, match="either task= or parameter"):
        make(task=Task({"mass": 1.1}), mass=1.2)
    with pytest.raises(TypeError, match="metail_envs.Task"):
        make(task={"mass": 1.1})
    with pytest.raises(ValueError, match="reset_noise_scale"):
        make(reset_noise_scale=-1)


def test_non_finite_action_is_refused():
    env = make()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be finite"):
        env.step(np.array([0.0, np.nan, 0.0], dtype=np.float32))
    with pytest.raises(ValueError):
        env.step(np.zeros(4, dtype=np.float32))  # wrong shape


@pytest.mark.parametrize("corrupt", ["qvel_huge", "qpos_nan"])
def test_diverging_simulation_truncates_without_nan(corrupt):
    env = make(terminate_when_unhealthy=False)
    obs0, _ = env.reset(seed=0)
    data = env.unwrapped.data
    if corrupt == "qvel_huge":
        data.qvel[:] = 1e12  # MuJoCo resets such a state itself (mjWARN_BADQVEL)
    else:
        data.qpos[2] = np.nan
    obs, reward, terminated, truncated, info = env.step(np.zeros(3, dtype=np.float32))
    assert truncated and not terminated and info["unstable"]
    assert np.all(np.isfinite(obs)) and np.isfinite(reward)
    env.reset(seed=1)
    obs, _, _, truncated, info = env.step(np.zeros(3, dtype=np.float32))
    assert not truncated and "unstable" not in info  # a reset starts clean
