"""HopperVariant-v0: Gymnasium's Hopper-v4 with its dynamics set by keyword arguments.

With no arguments it is Hopper-v4, step for step: same model, reward, termination, reset noise and
observation (the parity test checks 1e-9). Each keyword of :mod:`metail_envs.params` changes one
physical quantity::

    env = gym.make("metail/HopperVariant-v0", mass=1.2, friction=0.7)
    env = gym.make("metail/HopperVariant-v0", task=load_suite(DEFAULT_SUITE).test[3])

Arguments:
    task: a :class:`~metail_envs.tasks.Task`; or give its parameters as keywords instead.
    observe_context: append the normalised parameters (registry order, see ``params.PARAMS``;
        0 = default, +-1 = the accepted bounds, log scale for multipliers) to the observation.
        Off by default: an agent must infer the task from demonstrations.
    terminate_when_unhealthy, reset_noise_scale: as in Hopper-v4.
    render_mode: ``"rgb_array"`` (headless with ``MUJOCO_GL=egl``); width, height: its size.
    **params: the dynamics parameters (see the README's table or ``metail params``).

Differences from Hopper-v4, none of which changes a trajectory: the healthy height scales with the
leg length (a shorter Hopper standing is healthy); ``info`` carries ``task``; a numerically
unstable simulation (non-finite state, or MuJoCo resetting a diverged state) ends the episode with
``truncated=True`` and ``info["unstable"] = True`` and returns the last finite observation, so no
NaN reaches an agent. Task switching follows garage/PEARL/Meta-World: ``sample_tasks(n)``,
``set_task(task)`` (applies at the next reset), ``get_task()``.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from metail_envs.hopper_model import HopperModel, geometry_of
from metail_envs.params import context_vector
from metail_envs.tasks import DEFAULT_SUITE, Task, TaskSampler, load_suite

FRAME_SKIP = 4
FORWARD_REWARD_WEIGHT = 1.0
CTRL_COST_WEIGHT = 1e-3
HEALTHY_REWARD = 1.0
HEALTHY_STATE_MAX = 100.0
HEALTHY_Z_MIN = 0.7
HEALTHY_ANGLE_MAX = 0.2
VELOCITY_CLIP = 10.0
_W = mujoco.mjtWarning
_DIVERGENCE_WARNINGS = (_W.mjWARN_BADQPOS, _W.mjWARN_BADQVEL, _W.mjWARN_BADQACC)


class HopperVariantEnv(gym.Env):
    """Hopper-v4 whose masses, centre of mass, joint limits, friction, damping, gravity, motor
    strength and limb lengths are set by keyword arguments (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 125}

    def __init__(
        self,
        task: Task | None = None,
        *,
        observe_context: bool = False,
        terminate_when_unhealthy: bool = True,
        reset_noise_scale: float = 5e-3,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
        **params: float,
    ) -> None:
        if task is not None and params:
            raise TypeError(f"give either task= or parameter keywords, not both (got {params})")
        if task is not None and not isinstance(task, Task):
            raise TypeError(f"task must be a metail_envs.Task, got {type(task).__name__}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if not (isinstance(reset_noise_scale, float | int) and 0 <= reset_noise_scale <= 1):
            raise ValueError(f"reset_noise_scale must be in [0, 1], got {reset_noise_scale!r}")
        self._task = task if task is not None else Task(params)
        self._pending: Task | None = None
        self._observe_context = bool(observe_context)
        self._terminate_when_unhealthy = bool(terminate_when_unhealthy)
        self._noise = float(reset_noise_scale)
        self.render_mode = render_mode
        self._size = (height, width)
        self._renderer: mujoco.Renderer | None = None
        self._sampler: TaskSampler | None = None
        self._seed: int | None = None
        self._build(self._task)

        n_obs = 11 + len(self._context_list)
        self.observation_space = spaces.Box(-np.inf, np.inf, (n_obs,), np.float64)
        low, high = self.model.actuator_ctrlrange.T.astype(np.float32)
        self.action_space = spaces.Box(low, high, dtype=np.float32)
        self.dt = self.model.opt.timestep * FRAME_SKIP
        self.metadata = self.metadata | {"render_fps": int(np.round(1.0 / self.dt))}

    # --- building and switching tasks ---------------------------------------------------------

    def _build(self, task: Task) -> None:
        """Make the model of ``task``: in place if the geometry is unchanged, else recompiled."""
        values = task.values
        if getattr(self, "_hopper", None) is None or self._hopper.geometry != geometry_of(values):
            self._hopper = HopperModel(values)
            self.model = self._hopper.model
            self.data = mujoco.MjData(self.model)
            self._qpos, self._qvel, self._ctrl = self.data.qpos, self.data.qvel, self.data.ctrl
            self._warnings = [self.data.warning[int(w)] for w in _DIVERGENCE_WARNINGS]
            self._init_qpos = self.model.qpos0.copy()
            self._init_qvel = np.zeros(self.model.nv)
            self._healthy_z_min = HEALTHY_Z_MIN * self._hopper.healthy_z_scale
            if self._renderer is not None:
                self._renderer.close()
                self._renderer = None
        self._hopper.apply(values, self.data)
        self._context_list = context_vector(values).tolist() if self._observe_context else []
        self._task = task

    def set_task(self, task: Task) -> None:
        """Switch to ``task`` at the next ``reset`` (a dynamics switch costs microseconds)."""
        if not isinstance(task, Task):
            raise TypeError(f"task must be a metail_envs.Task, got {type(task).__name__}")
        self._pending = task

    def get_task(self) -> Task:
        """The task of the current episode (``set_task`` applies only at the next reset)."""
        return self._task

    def sample_tasks(self, n: int) -> list[Task]:
        """Draw ``n`` tasks from the hopper-v1 training distribution, seeded by ``reset(seed=)``."""
        if self._sampler is None:
            seed = None if self._seed is None else (self._seed, 0x7A5C)
            self._sampler = load_suite(DEFAULT_SUITE).sampler(seed)
        return self._sampler.sample(n)

    # --- the Gymnasium API --------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._seed, self._sampler = seed, None
        if self._pending is not None:
            self._build(self._pending)
            self._pending = None
        mujoco.mj_resetData(self.model, self.data)
        noise = self._noise
        qpos = self._init_qpos + self.np_random.uniform(-noise, noise, self.model.nq)
        qvel = self._init_qvel + self.np_random.uniform(-noise, noise, self.model.nv)
        self._qpos[:] = qpos
        self._qvel[:] = qvel
        mujoco.mj_forward(self.model, self.data)
        self._warnings_seen = sum(w.number for w in self._warnings)
        self._last_obs = self._observe()
        return self._last_obs, {"task": self._task}

    def _observe(self) -> np.ndarray:
        """Hopper-v4's observation: qpos without x, then qvel clipped to +-10 (and the context)."""
        v = [VELOCITY_CLIP if x > VELOCITY_CLIP else -VELOCITY_CLIP if x < -VELOCITY_CLIP else x
             for x in self._qvel.tolist()]  # fmt: skip
        return np.array(self._qpos.tolist()[1:] + v + self._context_list)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        # Plain Python floats instead of small NumPy ops: they are most of Hopper-v4's overhead.
        qpos, ctrl = self._qpos, self._ctrl
        x_before = qpos[0]
        ctrl[:] = action
        c = ctrl.tolist()
        ctrl_cost = CTRL_COST_WEIGHT * (c[0] * c[0] + c[1] * c[1] + c[2] * c[2])
        if ctrl_cost != ctrl_cost or ctrl_cost == math.inf:
            raise ValueError(f"action must be finite, got {action!r}")
        mujoco.mj_step(self.model, self.data, FRAME_SKIP)

        p, v = qpos.tolist(), self._qvel.tolist()
        x_velocity = (p[0] - x_before) / self.dt
        state = p[2:] + v
        healthy = (
            self._healthy_z_min < p[1]
            and -HEALTHY_ANGLE_MAX < p[2] < HEALTHY_ANGLE_MAX
            and -HEALTHY_STATE_MAX < min(state)
            and max(state) < HEALTHY_STATE_MAX
        )
        info = {"x_position": p[0], "x_velocity": x_velocity, "task": self._task}
        total = sum(state) + p[0] + p[1]
        if total - total != 0.0 or self._diverged():
            info["unstable"] = True
            return self._last_obs, 0.0, False, True, info
        healthy_reward = HEALTHY_REWARD if healthy or self._terminate_when_unhealthy else 0.0
        reward = FORWARD_REWARD_WEIGHT * x_velocity + healthy_reward - ctrl_cost
        clipped = [VELOCITY_CLIP if x > VELOCITY_CLIP else -VELOCITY_CLIP if x < -VELOCITY_CLIP else x
                   for x in v]  # fmt: skip
        obs = self._last_obs = np.array(p[1:] + clipped + self._context_list)
        return obs, reward, self._terminate_when_unhealthy and not healthy, False, info

    def _diverged(self) -> bool:
        """Whether MuJoCo reset a diverging simulation (bad qpos, qvel or qacc) since the reset."""
        bad_qpos, bad_qvel, bad_qacc = self._warnings
        return bad_qpos.number + bad_qvel.number + bad_qacc.number != self._warnings_seen

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, *self._size)
        self._renderer.update_scene(self.data, camera="track")
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
