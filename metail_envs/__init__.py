"""metail: a benchmark for few-shot imitation learning on MuJoCo Hopper variants.

``import metail_envs`` registers ``metail/HopperVariant-v0`` with Gymnasium and stays light: it
never imports torch, stable-baselines3 or imitation.
"""

from __future__ import annotations

import os

if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"  # headless rendering by default

import gymnasium as gym  # noqa: E402

from metail_envs.data import (  # noqa: E402
    DataError,
    data_hash,
    load_demos,
    load_expert,
    load_references,
)
from metail_envs.params import PARAMS, Param  # noqa: E402
from metail_envs.tasks import (  # noqa: E402
    DEFAULT_SUITE,
    LogUniform,
    Ring,
    Suite,
    Task,
    TaskSampler,
    Uniform,
    available_suites,
    load_suite,
)

__version__ = "0.1.0"
ENV_ID = "metail/HopperVariant-v0"

if ENV_ID not in gym.registry:
    gym.register(
        id=ENV_ID,
        entry_point="metail_envs.hopper:HopperVariantEnv",
        max_episode_steps=1000,
    )

__all__ = [
    "DEFAULT_SUITE",
    "ENV_ID",
    "DataError",
    "PARAMS",
    "LogUniform",
    "Param",
    "Ring",
    "Suite",
    "Task",
    "TaskSampler",
    "Uniform",
    "available_suites",
    "data_hash",
    "load_demos",
    "load_expert",
    "load_references",
    "load_suite",
]
