"""Adaptation time of the fine-tuning baselines on a quiet machine, one torch thread (as in a
worker), against the bare cost of their budget measured in the same run.

Issue 11 allows at most 10 s of adaptation per job. The leaderboard's "adapt s" column is wall
time on a shared machine (2-6 jobs on 2 cores); this is the same adaptation alone: the shipped
seed-0 checkpoint of each agent adapted on what the costliest job gets, K=5 whole
demonstrations of ``hopper-v1/test/00`` (5000 pairs: every batch is full). The reference is the
budget with nothing around it: 3000 Adam steps of batch 256 on a plain ``nn.Sequential`` of the
same widths (256-256 ReLU), so the ratio is the agents' overhead (normalisation, SB3's policy,
sampling), not a comparison between agents.

    pytest tests/bench/test_adapt_time.py -m bench --benchmark-columns=median,rounds
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import metail_envs
from metail_envs.benchmark import ProtocolConfig, resolve_agent
from metail_envs.benchmark.jobs import JobSpec, job_demos

CHECKPOINTS = Path(__file__).resolve().parents[2] / "results" / "checkpoints"
BUDGET_S = 10.0
AGENTS = {
    "bc": ("bc", {}),
    "maml_bc+finetune": ("maml_bc", {"adaptation": "finetune"}),
    "joint+finetune": ("joint", {"adaptation": "finetune"}),
    "single_task_bc": ("single_task_bc", {}),
}


@pytest.fixture(scope="module")
def demos() -> list:
    task = metail_envs.load_suite("hopper-v1").test[0]
    spec = JobSpec(task, "test", "full", 5, 0, ProtocolConfig())
    return job_demos(spec)[0]


@pytest.mark.parametrize("name", list(AGENTS))
def test_adaptation_of_a_shipped_checkpoint(benchmark, record, demos, name):
    torch.set_num_threads(1)
    directory, adapt_kwargs = AGENTS[name]
    cls = resolve_agent(directory)
    agent = cls.load(CHECKPOINTS / directory / "seed_000", **adapt_kwargs)
    benchmark.pedantic(lambda: agent.adapt(demos), rounds=3, warmup_rounds=0)
    record(benchmark, f"adaptation at full K=5: {name}", "candidate")
    median = benchmark.stats.stats.median
    assert median < BUDGET_S, f"{name}: {median:.1f} s per adaptation, budget {BUDGET_S} s"


@pytest.mark.parametrize("name", list(AGENTS))
def test_bare_budget(benchmark, record, name):
    """3000 Adam steps of 256 pairs on a plain 256-256 ReLU MLP: the budget alone."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    obs, acts = torch.randn(5000, 11), torch.rand(5000, 3) * 2 - 1

    def fit() -> None:
        net = nn.Sequential(nn.Linear(11, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                            nn.Linear(256, 3))  # fmt: skip
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(3000):
            idx = torch.randint(0, len(obs), (256,))
            loss = ((net(obs[idx]) - acts[idx]) ** 2).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()

    benchmark.pedantic(fit, rounds=3, warmup_rounds=0)
    record(benchmark, f"adaptation at full K=5: {name}", "reference")
