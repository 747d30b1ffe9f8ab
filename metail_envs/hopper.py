"""HopperVariant-v0: Gymnasium's Hopper-v4 with its dynamics set by keyword arguments.

With no arguments it is Hopper-v4, step for step. The environment is documented, in Gymnasium's
sections, on :class:`HopperVariantEnv`::

    env = gym.make("metail/HopperVariant-v0", mass=1.2, friction=0.7)
    env = gym.make("metail/HopperVariant-v0", task=load_suite(DEFAULT_SUITE).test[3])
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from metail_envs import checks
from metail_envs.hopper_model import HopperModel, geometry_of
from metail_envs.params import context_vector, markdown_table
from metail_envs.tasks import DEFAULT_SUITE, Task, TaskSampler, check_suite_task, load_suite

OBS_DIM = 11
"""Hopper-v4's observation size; ``observe_context=True`` appends ``len(PARAMS)`` more."""
FRAME_SKIP = 4
FORWARD_REWARD_WEIGHT = 1.0
CTRL_COST_WEIGHT = 1e-3
HEALTHY_REWARD = 1.0
HEALTHY_STATE_MAX = 100.0
HEALTHY_Z_MIN = 0.7
HEALTHY_ANGLE_MAX = 0.2
VELOCITY_CLIP = 10.0
MAX_RENDER_SIZE = 4096
_ACTION_SHAPE = (3,)
_W = mujoco.mjtWarning
_DIVERGENCE_WARNINGS = (_W.mjWARN_BADQPOS, _W.mjWARN_BADQVEL, _W.mjWARN_BADQACC)
_REWARD_TERMS = ("reward_forward", "reward_ctrl", "reward_survive")
_PARAMETER_TABLE = "<the parameter table, generated from metail_envs.params.PARAMS>"


class HopperVariantEnv(gym.Env):
    r"""
    ## Description

    Gymnasium's Hopper-v4 (a two-dimensional one-legged robot: torso, thigh, leg and foot, hopping
    forward by torques at the three hinges between them) whose dynamics are set by keyword
    arguments: body masses, the torso's centre of mass, joint limits, friction, joint damping,
    gravity, motor strength and limb lengths. With no arguments it *is* Hopper-v4, step for step:
    same model, reward, termination, reset noise and observation (tested to 1e-9). A benchmark
    task is one such set of values, a :class:`~metail_envs.tasks.Task`.

    ```python
    import gymnasium as gym, metail_envs
    env = gym.make("metail/HopperVariant-v0", mass=1.2, friction=0.7)
    env = gym.make("metail/HopperVariant-v0", task=metail_envs.load_suite().test[3])
    ```

    Task switching follows garage/PEARL/Meta-World: `sample_tasks(n)` (seeded by
    `reset(seed=)`), `set_task(task)` (applies at the next reset, microseconds for a dynamics-only
    switch), `get_task()`.

    ## Action Space

    `Box(-1, 1, (3,), float32)`: the motor commands; torque = gear (200, times
    `actuator_strength`) x action.

    | Num | Action                        | Min | Max | Joint (XML)   | Unit         |
    |-----|-------------------------------|-----|-----|---------------|--------------|
    | 0   | torque at the hip (thigh)     | -1  | 1   | `thigh_joint` | torque (N m) |
    | 1   | torque at the knee (leg)      | -1  | 1   | `leg_joint`   | torque (N m) |
    | 2   | torque at the ankle (foot)    | -1  | 1   | `foot_joint`  | torque (N m) |

    ## Observation Space

    `Box(-inf, inf, (11,), float64)`, Hopper-v4's: the joint positions without the torso's x
    (reported in `info["x_position"]`), then the joint velocities, clipped to [-10, 10].

    | Num | Observation                                   | Joint (XML)   | Type  | Unit                     |
    |-----|-----------------------------------------------|---------------|-------|--------------------------|
    | 0   | z-coordinate of the torso (its height)        | `rootz`       | slide | position (m)             |
    | 1   | angle of the torso                            | `rooty`       | hinge | angle (rad)              |
    | 2   | angle of the hip (thigh joint)                | `thigh_joint` | hinge | angle (rad)              |
    | 3   | angle of the knee (leg joint)                 | `leg_joint`   | hinge | angle (rad)              |
    | 4   | angle of the ankle (foot joint)               | `foot_joint`  | hinge | angle (rad)              |
    | 5   | velocity of the torso's x-coordinate          | `rootx`       | slide | velocity (m/s)           |
    | 6   | velocity of the torso's z-coordinate          | `rootz`       | slide | velocity (m/s)           |
    | 7   | angular velocity of the torso                 | `rooty`       | hinge | angular velocity (rad/s) |
    | 8   | angular velocity of the hip                   | `thigh_joint` | hinge | angular velocity (rad/s) |
    | 9   | angular velocity of the knee                  | `leg_joint`   | hinge | angular velocity (rad/s) |
    | 10  | angular velocity of the ankle                 | `foot_joint`  | hinge | angular velocity (rad/s) |
    | 11+ | with `observe_context=True`: each parameter, normalised | -   | -     | unitless, in [-1, 1]     |

    The context (off by default: an agent must infer the task from demonstrations) is every
    parameter in the order of the table below, mapped to [-1, 1] over its accepted range, 0 at
    the default (log scale for the multipliers, unit x).

    ## Rewards

    As Hopper-v4, with $dt$ = 4 x 0.002 s = 0.008 s:

    $$r = w_{forward} \frac{x_{after} - x_{before}}{dt} + r_{survive} - w_{ctrl} \|a\|_2^2$$

    - `reward_forward` = $w_{forward}\,\dot x$, $w_{forward} = 1$ (x velocity of the torso, m/s);
    - `reward_survive` = 1 while healthy (always 1 with `terminate_when_unhealthy=True`, whose
      episodes end when unhealthy; 0 when unhealthy otherwise);
    - `reward_ctrl` = $-w_{ctrl}\|a\|_2^2$, $w_{ctrl} = 10^{-3}$.

    `info` reports the three terms as Hopper-v5 does (their sum is the reward), with
    `x_position`, `x_velocity`, `z_distance_from_origin` and `task`.

    ## Starting State

    The model's rest pose, (x, z, angles) = (0, 1.25, 0, 0, 0, 0) for the nominal limb lengths
    (the torso lower by what shorter limbs remove, so the foot starts on the floor), zero
    velocities, each of the 6 positions and 6 velocities plus uniform noise in
    [-`reset_noise_scale`, `reset_noise_scale`].

    ## Episode End

    #### Termination
    With `terminate_when_unhealthy=True` (the default), when the Hopper is unhealthy:
    1. an element of `observation[1:]` (angles and velocities, unclipped) leaves (-100, 100);
    2. the torso's height `observation[0]` is at most 0.7 m, scaled by the rest height over 1.25 m
       (a Hopper with shorter limbs standing is healthy);
    3. the torso's angle `observation[1]` leaves (-0.2, 0.2) rad.

    #### Truncation
    After 1000 steps (the registered `max_episode_steps`), or at once when the simulation is
    numerically unstable (a non-finite state, or MuJoCo resetting a diverged state): then
    `info["unstable"] = True`, the reward terms are 0 and the last finite observation is returned,
    so no NaN reaches an agent.

    ## Arguments

    | Parameter                  | Type          | Default | Description                                                  |
    |----------------------------|---------------|---------|--------------------------------------------------------------|
    | `task`                     | **Task**      | `None`  | a Task; or give its parameters as keywords instead, not both |
    | `observe_context`          | **bool**      | `False` | append the normalised parameters to the observation          |
    | `terminate_when_unhealthy` | **bool**      | `True`  | end the episode when unhealthy (see Episode End)             |
    | `reset_noise_scale`        | **float**     | `5e-3`  | in [0, 1], scale of the starting noise (see Starting State)  |
    | `render_mode`              | **str**       | `None`  | `"rgb_array"` (headless with `MUJOCO_GL=egl`) or `None`      |
    | `width`, `height`          | **int**       | `480`   | in [1, 4096], the size of a rendered frame in pixels         |

    The dynamics parameters, each a **float** keyword (bounds inclusive; each joint's low limit at
    least 1 deg below its high limit, and |limit| x range scale <= 180 deg):

    <the parameter table, generated from metail_envs.params.PARAMS>

    Every bad argument raises `TypeError` or `ValueError` naming it and its accepted range.

    ## Version History

    * v0: Hopper-v4 with its dynamics set by keyword arguments or a Task. Later, without a new
      version because no observation, reward or termination changed: `info` reports the reward
      terms as Hopper-v5 does (`reward_forward`, `reward_ctrl`, `reward_survive`,
      `z_distance_from_origin`).
    """

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
        if task is not None:
            _check_task(task)
        if render_mode is not None and not (
            isinstance(render_mode, str) and render_mode in self.metadata["render_modes"]
        ):
            raise ValueError(
                f"render_mode must be None or 'rgb_array', got {checks.show(render_mode)}"
            )
        self._observe_context = checks.flag("observe_context", observe_context)
        self._terminate_when_unhealthy = checks.flag(
            "terminate_when_unhealthy", terminate_when_unhealthy
        )
        self._noise = checks.real("reset_noise_scale", reset_noise_scale, 0.0, 1.0)
        self._size = (
            checks.integer("height", height, 1, MAX_RENDER_SIZE),
            checks.integer("width", width, 1, MAX_RENDER_SIZE),
        )
        self._task = task if task is not None else Task(params)
        self._pending: Task | None = None
        self.render_mode = render_mode
        self._renderer: mujoco.Renderer | None = None
        self._sampler: TaskSampler | None = None
        self._seed: int | None = None
        self._build(self._task)

        n_obs = OBS_DIM + len(self._context_list)
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
            self._init_z = float(self._init_qpos[1])
            # The offscreen framebuffer holds a frame of the requested size (as Gymnasium's).
            self.model.vis.global_.offheight, self.model.vis.global_.offwidth = self._size
            self._healthy_z_min = HEALTHY_Z_MIN * self._hopper.healthy_z_scale
            if self._renderer is not None:
                self._renderer.close()
                self._renderer = None
        self._hopper.apply(values, self.data)
        self._context_list = context_vector(values).tolist() if self._observe_context else []
        self._task = task

    def set_task(self, task: Task) -> None:
        """Switch to ``task`` at the next ``reset`` (a dynamics switch costs microseconds)."""
        self._pending = _check_task(task)

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
        if seed is not None:
            seed = checks.integer("seed", seed, 0)
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
        self._last_obs = self._get_obs()
        x, z = self._qpos.tolist()[:2]
        return self._last_obs, {
            "x_position": x,
            "z_distance_from_origin": z - self._init_z,
            "task": self._task,
        }

    # --- the pieces of a step, named as Gymnasium's Hopper-v5 names them ----------------------
    # Plain Python floats instead of small NumPy ops: they are most of Hopper-v4's overhead.

    @property
    def is_healthy(self) -> bool:
        """Whether the current state is healthy (see Episode End, Termination).

        The angles and velocities (``qpos[2:]``, ``qvel``, unclipped) are in (-100, 100), the
        torso is higher than 0.7 m (scaled by the rest height over 1.25 m) and its angle is in
        (-0.2, 0.2) rad.
        """
        p = self._qpos.tolist()
        state = p[2:] + self._qvel.tolist()
        return (
            self._healthy_z_min < p[1]
            and -HEALTHY_ANGLE_MAX < p[2] < HEALTHY_ANGLE_MAX
            and -HEALTHY_STATE_MAX < min(state)
            and max(state) < HEALTHY_STATE_MAX
        )

    @property
    def healthy_reward(self) -> float:
        """``reward_survive``, as Hopper-v4's: 1 while healthy, else 0.

        Always 1 with ``terminate_when_unhealthy=True``: an unhealthy step ends the episode.
        """
        return HEALTHY_REWARD if self._terminate_when_unhealthy or self.is_healthy else 0.0

    def control_cost(self, action: list[float]) -> float:
        r"""The control cost $w_{ctrl}\|a\|_2^2$ of 3 motor commands (it is ``-reward_ctrl``)."""
        a0, a1, a2 = action
        return CTRL_COST_WEIGHT * (a0 * a0 + a1 * a1 + a2 * a2)

    def _get_obs(self) -> np.ndarray:
        """Hopper-v4's observation: qpos without x, then qvel clipped to +-10 (and the context)."""
        v = [VELOCITY_CLIP if x > VELOCITY_CLIP else -VELOCITY_CLIP if x < -VELOCITY_CLIP else x
             for x in self._qvel.tolist()]  # fmt: skip
        return np.array(self._qpos.tolist()[1:] + v + self._context_list)

    def _get_rew(self, x_velocity: float, ctrl_cost: float) -> tuple[float, dict[str, float]]:
        """The reward of a step (see Rewards), and its three terms as ``info`` reports them."""
        forward_reward = FORWARD_REWARD_WEIGHT * x_velocity
        healthy_reward = self.healthy_reward
        reward = forward_reward + healthy_reward - ctrl_cost
        return reward, {
            "reward_forward": forward_reward,
            "reward_ctrl": -ctrl_cost,
            "reward_survive": healthy_reward,
        }

    def _set_action(self, action: np.ndarray) -> list[float]:
        """Write ``action`` to ``data.ctrl``, refusing a wrong shape or type; the ctrl as floats."""
        shape = action.shape if type(action) is np.ndarray else np.shape(action)
        if shape != _ACTION_SHAPE:
            raise ValueError(f"action must have shape (3,), got {checks.show(action)}")
        try:
            self._ctrl[:] = action
        except (TypeError, ValueError):
            raise TypeError(f"action must be 3 real numbers, got {checks.show(action)}") from None
        return self._ctrl.tolist()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Hopper-v4's step: 4 MuJoCo steps of ``action``, or a truncation if they diverge."""
        x_before = self._qpos[0]
        ctrl_cost = self.control_cost(self._set_action(action))
        if not math.isfinite(ctrl_cost):
            raise ValueError(f"action must be finite, got {checks.show(action)}")
        mujoco.mj_step(self.model, self.data, FRAME_SKIP)

        p = self._qpos.tolist()
        x_velocity = (p[0] - x_before) / self.dt
        if not math.isfinite(sum(p) + sum(self._qvel.tolist())) or self._diverged():
            info = self._info(p, x_velocity, dict.fromkeys(_REWARD_TERMS, 0.0))
            info["unstable"] = True
            return self._last_obs, 0.0, False, True, info
        reward, reward_info = self._get_rew(x_velocity, ctrl_cost)
        obs = self._last_obs = self._get_obs()
        terminated = self._terminate_when_unhealthy and not self.is_healthy
        return obs, reward, terminated, False, self._info(p, x_velocity, reward_info)

    def _info(
        self, p: list[float], x_velocity: float, reward_info: dict[str, float]
    ) -> dict[str, Any]:
        """A step's ``info``: Hopper-v5's keys (its reward terms sum to the reward), and the task."""
        return {
            "x_position": p[0],
            "z_distance_from_origin": p[1] - self._init_z,
            "x_velocity": x_velocity,
            **reward_info,
            "task": self._task,
        }

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


def _check_task(task: object) -> Task:
    """A Task (refused if it takes a committed suite's id with other parameters)."""
    if not isinstance(task, Task):
        raise TypeError(
            f"task must be a metail_envs.Task, got {type(task).__name__} {checks.show(task)}"
        )
    check_suite_task(task)
    return task


def _parameter_table() -> str:
    """The registry's table, indented as the class docstring (generated: docs never drift)."""
    return "\n    ".join(markdown_table().splitlines())


if HopperVariantEnv.__doc__:  # None under python -OO
    HopperVariantEnv.__doc__ = HopperVariantEnv.__doc__.replace(
        _PARAMETER_TABLE, _parameter_table()
    )
