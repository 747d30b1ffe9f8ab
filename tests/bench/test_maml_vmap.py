"""One MAML-BC meta-iteration (meta-gradient + Adam step) with ``vmap`` over the tasks of the
meta-batch against a Python loop over the same tasks, at the shipped config's sizes and at a
64-64 network with one inner step (where per-task overhead, not arithmetic, dominates).

The reference is ``vectorize=False`` (same code, same batch, same numbers); the printed ratio is
loop time / vmap time, measured in the same run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.batches import TaskDemos
from baselines.maml_bc import MAMLBCAgent


def _synthetic_tasks(n_tasks: int, n_demos: int = 10, length: int = 1000) -> list[TaskDemos]:
    """Tasks shaped like the shipped data (10 demos of 1000 steps); the values do not matter."""
    rng = np.random.default_rng(0)
    n = n_demos * length
    return [
        TaskDemos(
            obs=rng.normal(size=(n, 11)).astype(np.float32),
            acts=rng.uniform(-1, 1, size=(n, 3)).astype(np.float32),
            starts=np.arange(0, n, length),
            lengths=np.full(n_demos, length),
        )
        for _ in range(n_tasks)
    ]


@pytest.mark.parametrize(
    "sizes", [{}, {"hidden": [64, 64], "inner_steps": 1}], ids=["shipped", "64-64-one-step"]
)
@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
@pytest.mark.parametrize("vectorize", [True, False], ids=["vmap", "loop"])
def test_meta_iteration(benchmark, record, sizes, first_order, vectorize):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    agent = MAMLBCAgent(first_order=first_order, vectorize=vectorize, **sizes)
    agent.net = agent.build()
    tasks = _synthetic_tasks(agent.config.meta_batch)
    agent.net.policy.norm.set_stats(np.concatenate([t.obs for t in tasks]))
    batch = agent.sample_batch(np.random.default_rng(0), tasks)
    optimiser = torch.optim.Adam(agent.net.parameters(), lr=1e-6)
    named = dict(agent.net.policy.named_parameters())

    def meta_iteration() -> None:
        grads, _, _ = agent.meta_gradient(batch)
        for k, g in grads.items():
            named[k].grad = g
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)

    benchmark.pedantic(meta_iteration, rounds=30, warmup_rounds=3)
    c = agent.config
    group = (
        f"MAML-BC meta-iteration, {'first' if first_order else 'second'} order "
        f"({c.meta_batch} tasks x {c.support_size}+{c.query_size} pairs, "
        f"MLP {list(c.hidden)}, {c.inner_steps} inner step(s), "
        f"{'Meta-SGD rates' if c.learn_inner_lr else 'fixed inner rate'}, 1 thread)"
    )
    record(benchmark, group, "candidate" if vectorize else "reference")
