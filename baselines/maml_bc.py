"""MAML-BC: model-agnostic meta-learning on the behavioural-cloning loss, in ``torch.func``.

Meta-training, one iteration:

1. draw a meta-batch of training tasks; split each task's demonstrations at random into support
   (1..``max_support_demos`` demos, like the K of evaluation) and query (the others), and draw
   ``support_size`` / ``query_size`` (obs, action) pairs from each;
2. per task, ``inner_steps`` gradient steps on the support BC loss from the meta-parameters θ:
   ``θ' = θ - α ⊙ ∇L_support(θ)`` (``α`` a scalar, or one learned rate per parameter: Meta-SGD);
3. the meta-loss is the mean over tasks of the query BC loss at ``θ'``; its gradient with respect
   to θ (and α) is taken through the inner steps (second order) or with the inner gradients
   treated as constants (``first_order``, FOMAML), and Adam takes one step.

The tasks of a meta-batch are processed together with ``torch.vmap`` over
``torch.func.grad``/``functional_call`` (``vectorize=False`` loops over them instead: same
numbers, used by the speed benchmark). At test time ``adapt`` takes the same inner steps on the
K demonstrations (all their pairs, full batch); K=0 returns the meta-trained policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap
from tqdm.auto import tqdm

from baselines.base import TorchAgent, env_dims, frozen_copy, seed_all
from baselines.batches import TaskDemos, as_tensors, load_tasks, pooled_obs, stack_rows
from baselines.nets import GaussianPolicy, MeanActionPolicy, bc_loss
from metail_envs.benchmark import Policy

Params = dict[str, Tensor]


class MAML:
    """The functional core: the BC loss of a parameter set, inner adaptation, the meta-loss.

    ``policy`` only supplies the architecture and the (fixed) normalisation buffers; parameters
    are always passed in explicitly, so nothing here modifies a module.
    """

    def __init__(
        self, policy: GaussianPolicy, loss: str, inner_steps: int, first_order: bool
    ) -> None:
        self.policy = policy
        self.buffers = {k: b.detach() for k, b in policy.named_buffers()}
        self.loss_kind = loss
        self.inner_steps = inner_steps
        self.first_order = first_order

    def loss(self, params: Params, obs: Tensor, acts: Tensor) -> Tensor:
        mean, log_std = functional_call(self.policy, (params, self.buffers), (obs,))
        return bc_loss(mean, log_std, acts, self.loss_kind)

    def adapt(
        self,
        params: Params,
        lrs: Mapping[str, Tensor],
        obs: Tensor,
        acts: Tensor,
        steps: int | None = None,
        first_order: bool | None = None,
    ) -> Params:
        """``steps`` inner gradient steps ``p <- p - lr * dL/dp`` on ``(obs, acts)``."""
        first_order = self.first_order if first_order is None else first_order
        for _ in range(self.inner_steps if steps is None else steps):
            grads = grad(self.loss)(params, obs, acts)
            if first_order:
                grads = {k: g.detach() for k, g in grads.items()}
            params = {k: p - lrs[k] * grads[k] for k, p in params.items()}
        return params

    def query_loss(
        self,
        params: Params,
        lrs: Mapping[str, Tensor],
        s_obs: Tensor,
        s_acts: Tensor,
        q_obs: Tensor,
        q_acts: Tensor,
    ) -> Tensor:
        """One task's MAML loss: the query loss after adapting on the support."""
        return self.loss(self.adapt(params, lrs, s_obs, s_acts), q_obs, q_acts)

    def meta_loss(
        self,
        params: Params,
        lrs: Mapping[str, Tensor],
        batch: Mapping[str, Tensor],
        vectorize: bool = True,
    ) -> Tensor:
        """Mean over the meta-batch's tasks (leading dim of every batch tensor) of the MAML loss."""
        args = (batch["s_obs"], batch["s_acts"], batch["q_obs"], batch["q_acts"])
        if vectorize:
            losses = vmap(self.query_loss, in_dims=(None, None, 0, 0, 0, 0))(params, lrs, *args)
        else:
            n = args[0].shape[0]
            losses = torch.stack(
                [self.query_loss(params, lrs, *(a[i] for a in args)) for i in range(n)]
            )
        return losses.mean()


class MAMLBCAgent(TorchAgent):
    """MAML (or FOMAML, or Meta-SGD) on the BC loss; test-time adaptation = the inner steps."""

    config_name = "maml_bc"

    def build(self) -> nn.Module:
        c = self.config
        obs_dim, act_dim = env_dims()
        net = nn.Module()
        net.policy = GaussianPolicy(
            obs_dim, act_dim, c["hidden"], activation=c["activation"],
            init_log_std=c["init_log_std"], min_log_std=c["min_log_std"],
        )  # fmt: skip
        if c["learn_inner_lr"]:
            net.inner_lr = nn.ParameterDict(
                {_key(k): nn.Parameter(torch.full_like(p, c["inner_lr"]))
                 for k, p in net.policy.named_parameters()}
            )  # fmt: skip
        return net

    def maml(self) -> MAML:
        c = self.config
        return MAML(self._trained().policy, c["loss"], c["inner_steps"], c["first_order"])

    def params(self, detach: bool = True) -> Params:
        """The meta-parameters θ (detached unless the meta-gradient is wanted)."""
        named = self._trained().policy.named_parameters()
        return {k: p.detach() if detach else p for k, p in named}

    def inner_lrs(self, detach: bool = True) -> Params:
        """The inner learning rates α: learned per-parameter tensors, or the fixed scalar."""
        net = self._trained()
        if self.config["learn_inner_lr"]:
            rates = {k: net.inner_lr[_key(k)] for k in self.params()}
            return {k: r.detach() if detach else r for k, r in rates.items()}
        return {k: torch.tensor(float(self.config["inner_lr"])) for k in self.params()}

    # --- meta-training --------------------------------------------------------------------

    def sample_batch(self, rng: np.random.Generator, tasks: Sequence[TaskDemos]) -> dict[str, Any]:
        """A meta-batch: support and query pairs of ``meta_batch`` tasks, stacked over tasks."""
        c = self.config
        n = min(c["meta_batch"], len(tasks))
        chosen = [tasks[i] for i in rng.choice(len(tasks), n, replace=False)]
        s_rows, q_rows = [], []
        for t in chosen:
            support, query = t.split(rng, c["max_support_demos"])
            s_rows.append(t.sample(rng, support, c["support_size"]))
            q_rows.append(t.sample(rng, query, c["query_size"]))
        s_obs, s_acts = stack_rows(chosen, s_rows)
        q_obs, q_acts = stack_rows(chosen, q_rows)
        return {"s_obs": s_obs, "s_acts": s_acts, "q_obs": q_obs, "q_acts": q_acts}

    def objective(
        self, params: Params, lrs: Params, batch: Mapping[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """What meta-training minimises, and what it logs: here the MAML loss alone."""
        loss = self.maml().meta_loss(params, lrs, batch, self.config["vectorize"])
        return loss, {"loss_ml": loss.detach()}

    def meta_gradient(
        self, batch: Mapping[str, Tensor]
    ) -> tuple[Params, Params | None, dict[str, Tensor]]:
        """Gradients of :meth:`objective` w.r.t. θ (and α when learned) and the logged values.

        The inner steps are ``torch.func`` transforms; the outer gradient is plain autograd
        through them (faster on CPU than an outer ``torch.func.grad``, same numbers).
        """
        params, lrs = self.params(detach=False), self.inner_lrs(detach=False)
        loss, logs = self.objective(params, lrs, batch)
        learned = self.config["learn_inner_lr"]
        leaves = list(params.values()) + (list(lrs.values()) if learned else [])
        grads = torch.autograd.grad(loss, leaves, allow_unused=True, materialize_grads=True)
        g_params = dict(zip(params, grads[: len(params)]))
        g_lrs = dict(zip(lrs, grads[len(params) :])) if learned else None
        return g_params, g_lrs, logs

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        c = self.config
        rng = seed_all(seed)
        tasks = load_tasks(demos)
        self.net = self.build()
        self.net.policy.norm.set_stats(pooled_obs(tasks))
        optimiser = torch.optim.Adam(self.net.parameters(), lr=c["meta_lr"])
        named = dict(self.net.policy.named_parameters())
        bar = tqdm(range(c["meta_iterations"]), desc=self.config_name, disable=not c["progress"])
        for it in bar:
            g_params, g_lrs, logs = self.meta_gradient(self.sample_batch(rng, tasks))
            for k, g in g_params.items():
                named[k].grad = g
            if g_lrs is not None:
                for k, g in g_lrs.items():
                    self.net.inner_lr[_key(k)].grad = g
            nn.utils.clip_grad_norm_(self.net.parameters(), c["grad_clip"])
            optimiser.step()
            optimiser.zero_grad(set_to_none=True)
            if it % c["log_every"] == 0 or it == c["meta_iterations"] - 1:
                self.log_row(iteration=it, **{k: v.item() for k, v in logs.items()})
                bar.set_postfix({k: f"{v.item():.3f}" for k, v in logs.items()})

    # --- test time ------------------------------------------------------------------------

    def adapt(self, demos: Sequence[Any]) -> Policy:
        """``test_inner_steps`` (default: ``inner_steps``) on all pairs of the K demonstrations,
        applied to a copy: the meta-trained parameters are never modified."""
        policy = frozen_copy(self._trained().policy)
        if demos:
            obs, acts = as_tensors(demos)
            steps = self.config["test_inner_steps"]
            maml = self.maml()
            adapted = maml.adapt(
                self.params(), self.inner_lrs(), obs, acts,
                steps=self.config["inner_steps"] if steps is None else steps, first_order=True,
            )  # fmt: skip
            with torch.no_grad():
                for k, p in policy.named_parameters():
                    p.copy_(adapted[k])
        return MeanActionPolicy(lambda x: policy(x)[0])


def _key(param_name: str) -> str:
    """A parameter name as a ParameterDict key (no dots)."""
    return param_name.replace(".", "__")
