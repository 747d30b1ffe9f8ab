"""A first look at the suite: make a few variants, step them, report what changed physically."""

from __future__ import annotations

import gymnasium as gym

from metail_envs import ENV_ID
from metail_envs.hopper_model import torque_to_weight, total_mass
from metail_envs.tasks import DEFAULT_SUITE, Task, load_suite


def rollout_return(task: Task, steps: int, seed: int) -> tuple[float, int, float]:
    """Return, length and final x of one episode under a fixed seeded random policy."""
    env = gym.make(ENV_ID, task=task, max_episode_steps=steps)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    total, length, x = 0.0, 0, 0.0
    while True:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        total, length, x = total + float(reward), length + 1, info["x_position"]
        if terminated or truncated:
            break
    env.close()
    return total, length, x


def describe_variants(
    suite_name: str = DEFAULT_SUITE, n: int = 4, steps: int = 200, seed: int = 0
) -> str:
    """A table of the nominal Hopper and ``n`` test variants: physics and a random episode."""
    suite = load_suite(suite_name)
    tasks = [suite.nominal, *suite.test[:n]]
    rows = [
        f"{'task':22s} {'mass kg':>8s} {'torque/wt':>9s} {'return':>8s} {'steps':>5s}  changed",
    ]
    for task in tasks:
        ret, length, _ = rollout_return(task, steps, seed)
        values = task.values
        changed = ", ".join(f"{k}={v:.3g}" for k, v in task.items) or "(Hopper-v4)"
        rows.append(
            f"{task.id:22s} {total_mass(values):8.2f} {torque_to_weight(values):9.2f} "
            f"{ret:8.1f} {length:5d}  {changed}"
        )
    rows.append(f"(returns: one episode of a uniform random policy, seed {seed}, <= {steps} steps)")
    return "\n".join(rows)


__all__ = ["describe_variants", "rollout_return"]
