"""MAML-BC: model-agnostic meta-learning on the behavioural-cloning loss, in ``torch.func``.

Meta-training, one iteration:

1. draw a meta-batch of training tasks; split each task's demonstrations at random into support
   and query (the others): with probability ``p_short`` the support is K windows drawn exactly
   as the protocol's short track draws them (K uniform in its short K values: the first
   ``SHORT_WINDOW`` transitions of K random demos), else 1..``max_support_demos`` whole demos
   (like the K of the full track); draw ``support_size`` / ``query_size`` (obs, action) pairs
   from each (the query always from whole demos: the adapted policy must do the whole episode);
2. per task, ``inner_steps`` gradient steps on the support BC loss from the meta-parameters θ:
   ``θ' = θ - α ⊙ ∇L_support(θ)`` (``α`` a scalar, or one learned rate per parameter: Meta-SGD);
3. the meta-loss is the mean over tasks of the query BC loss at ``θ'``; its gradient with respect
   to θ (and α) is taken through the inner steps (second order) or with the inner gradients
   treated as constants (``first_order``, FOMAML), and Adam takes one step.

The tasks of a meta-batch are processed together with ``torch.vmap`` over
``torch.func.grad``/``functional_call`` (``vectorize=False`` loops over them instead: same
numbers, used by the speed benchmark).

Meta-SGD rates (``learn_inner_lr``) are ``max_inner_lr * sigmoid(raw)``: positive and bounded
whatever the outer optimiser does to ``raw`` (unconstrained rates ended up negative, i.e. gradient
ascent, for a third of the weights of the first shipped joint agent).

Test time, two modes (``adaptation``; meta-training is the same in both, and a checkpoint may be
loaded in either: ``MAMLBCAgent.load(path, adaptation="finetune")``):

* ``"inner_loop"``: exactly the ``inner_steps`` steps meta-training used, with the same
  (learned) rates, full batch on the pairs of the K demonstrations, or (``adapt_window``) of
  their first ``adapt_window`` transitions: the episode-start windows half of meta-training's
  supports are (on held-out training tasks, adapting on whole demonstrations lowered the score
  on most tasks while their starts raised it: ``docs/baselines.md``);
* ``"finetune"``: the meta-learned initialisation fine-tuned with BC's budget and trainer
  (:class:`baselines.finetune.FinetuneConfig`, :func:`baselines.finetune.finetune`), the "meta-init +
  fine-tune" variant the literature compares MAML against.

K=0 returns the meta-trained policy in both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap
from tqdm.auto import tqdm

from baselines.base import TorchAgent, adapt_stats, env_dims, frozen_copy, seed_all
from baselines.batches import TaskDemos, as_tensors, load_tasks, pooled_obs, stack_rows
from baselines.config import (
    MLPConfig,
    NonNegativeInt,
    OptionalPositiveInt,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from baselines.finetune import FinetuneConfig, finetune
from baselines.nets import GaussianPolicy, MeanActionPolicy, bc_loss
from metail_envs.benchmark import Policy
from metail_envs.benchmark import protocol as P
from metail_envs.benchmark.jobs import cut

Params = dict[str, Tensor]


class MAMLBCConfig(FinetuneConfig, MLPConfig, file="maml_bc"):
    """MAML-BC: the policy network, the inner loop, meta-training, and the test-time mode
    (with BC's fine-tuning budget, inherited, for ``adaptation="finetune"``)."""

    adapt_only: ClassVar[tuple[str, ...]] = (
        *FinetuneConfig.adapt_only,
        "adaptation",
        "adapt_window",
        "inner_guard",
    )
    init_log_std: float
    """The Gaussian policy's initial log standard deviation (learned from there)."""
    min_log_std: float
    """The smallest log standard deviation the policy may reach."""
    loss: Literal["nll", "mse"]
    """BC loss: negative log-likelihood of the Gaussian, or squared error of its mean."""
    adaptation: Literal["inner_loop", "finetune"]
    """Test-time mode: the meta-trained inner loop, or BC's fine-tune from the meta-learned
    initialisation."""
    inner_steps: NonNegativeInt
    """Inner gradient steps, in meta-training and at test (``adaptation="inner_loop"``)."""
    adapt_window: OptionalPositiveInt
    """Inner loop at test: adapt on the first ``adapt_window`` transitions of each demonstration
    (the episode-start windows that half of meta-training's supports are); None: all of them."""
    inner_guard: bool
    """Inner loop at test: keep the iterate (the meta-parameters, step 1, ..., the last step) with
    the lowest loss on those transitions, so a step that overshoots on a task whose gradients
    are larger than meta-training's is not taken."""
    inner_lr: PositiveFloat
    """The fixed inner rate, or (``learn_inner_lr``) the initial value of every learned rate."""
    learn_inner_lr: bool
    """Meta-SGD: one learned rate per parameter, in (0, ``max_inner_lr``)."""
    max_inner_lr: PositiveFloat
    """Upper bound of every learned inner rate (``max_inner_lr * sigmoid(raw)``)."""
    first_order: bool
    """First-order MAML (FOMAML): the inner gradients are treated as constants in the
    meta-gradient."""
    vectorize: bool
    """Process a meta-batch's tasks together with ``torch.vmap`` (else a Python loop: same
    numbers)."""
    meta_batch: PositiveInt
    """Training tasks per meta-iteration."""
    max_support_demos: PositiveInt
    """At most this many whole demos form a task's support (when it is not drawn as short
    windows)."""
    p_short: Probability
    """Probability that a task's support is drawn as the protocol's short track draws K
    windows (K uniform in its short K values); else 1..``max_support_demos`` whole demos."""
    support_size: PositiveInt
    """(obs, action) pairs drawn from a task's support per meta-iteration."""
    query_size: PositiveInt
    """(obs, action) pairs drawn from a task's query (whole other demos) per meta-iteration."""
    meta_lr: PositiveFloat
    """Adam learning rate of the outer (meta) step."""
    meta_iterations: PositiveInt
    """Meta-iterations of meta-training."""
    grad_clip: PositiveFloat
    """Largest norm of the meta-gradient (clipped above it)."""
    log_every: PositiveInt
    """Meta-iterations between two entries of the training log."""
    progress: bool
    """Whether to show a progress bar while meta-training."""

    def check(self) -> None:
        super().check()
        if self.learn_inner_lr:
            self.require(
                "inner_lr", self.inner_lr < self.max_inner_lr,
                f"< max_inner_lr={self.max_inner_lr} when learn_inner_lr (rates are bounded)",
            )  # fmt: skip


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
            params = self.step(params, lrs, obs, acts, first_order)
        return params

    def step(
        self,
        params: Params,
        lrs: Mapping[str, Tensor],
        obs: Tensor,
        acts: Tensor,
        first_order: bool,
    ) -> Params:
        """One inner step ``p <- p - lr * dL/dp`` (the gradient detached when ``first_order``)."""
        grads = grad(self.loss)(params, obs, acts)
        if first_order:
            grads = {k: g.detach() for k, g in grads.items()}
        return {k: p - lrs[k] * grads[k] for k, p in params.items()}

    @torch.no_grad()
    def adapt_guarded(
        self, params: Params, lrs: Mapping[str, Tensor], obs: Tensor, acts: Tensor, steps: int
    ) -> tuple[Params, int]:
        """Test time: ``steps`` first-order inner steps, keeping the iterate (0 to ``steps``)
        with the lowest loss on ``(obs, acts)``; returns it and its number of steps."""
        best, best_steps, best_loss = params, 0, float(self.loss(params, obs, acts))
        for n in range(1, steps + 1):
            with torch.enable_grad():
                params = self.step(params, lrs, obs, acts, first_order=True)
            loss = float(self.loss(params, obs, acts))
            if loss < best_loss:
                best, best_steps, best_loss = params, n, loss
        return best, best_steps

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


class MAMLBCAgent(TorchAgent[MAMLBCConfig]):
    """MAML (or FOMAML, or Meta-SGD with bounded rates) on the BC loss; test-time adaptation is
    the inner loop or BC's fine-tune from the meta-learned initialisation."""

    adaptation_budget = (
        "inner_loop: inner_steps full-batch SGD steps (Meta-SGD rates in (0, max_inner_lr)) on "
        "the first adapt_window transitions of each demo; finetune: BC's adapt_batches Adam "
        "batches, at most adapt_max_epochs passes over the pairs"
    )
    checkpoint_version = 2  # 2: bounded Meta-SGD rates (raw_inner_lr), no test_inner_steps

    def build(self) -> nn.Module:
        c = self.config
        obs_dim, act_dim = env_dims()
        net = nn.Module()
        net.policy = GaussianPolicy(
            obs_dim, act_dim, c.hidden, activation=c.activation,
            init_log_std=c.init_log_std, min_log_std=c.min_log_std,
        )  # fmt: skip
        if c.learn_inner_lr:
            fraction = c.inner_lr / c.max_inner_lr
            raw = math.log(fraction / (1.0 - fraction))  # sigmoid(raw) * max = inner_lr
            net.raw_inner_lr = nn.ParameterDict(
                {_key(k): nn.Parameter(torch.full_like(p, raw))
                 for k, p in net.policy.named_parameters()}
            )  # fmt: skip
        return net

    def maml(self) -> MAML:
        c = self.config
        return MAML(self._trained().policy, c.loss, c.inner_steps, c.first_order)

    def params(self, detach: bool = True) -> Params:
        """The meta-parameters θ (detached unless the meta-gradient is wanted)."""
        named = self._trained().policy.named_parameters()
        return {k: p.detach() if detach else p for k, p in named}

    def inner_lrs(self, detach: bool = True) -> Params:
        """The inner learning rates α: ``max_inner_lr * sigmoid(raw)`` per parameter when
        learned (so always in [0, max_inner_lr]), else the fixed scalar ``inner_lr``."""
        net, c = self._trained(), self.config
        if not c.learn_inner_lr:
            return {k: torch.tensor(c.inner_lr) for k in self.params()}
        rates = {}
        for k in self.params():
            raw = net.raw_inner_lr[_key(k)]
            rates[k] = c.max_inner_lr * torch.sigmoid(raw.detach() if detach else raw)
        return rates

    # --- meta-training --------------------------------------------------------------------

    def sample_batch(self, rng: np.random.Generator, tasks: Sequence[TaskDemos]) -> dict[str, Any]:
        """A meta-batch: support and query pairs of ``meta_batch`` tasks, stacked over tasks."""
        c = self.config
        n = min(c.meta_batch, len(tasks))
        chosen = [tasks[i] for i in rng.choice(len(tasks), n, replace=False)]
        s_rows, q_rows = [], []
        for t in chosen:
            if c.p_short > 0 and rng.random() < c.p_short:  # no draw at 0: old runs unchanged
                k = int(rng.choice(P.SHORT_K_VALUES))
                window_rows, query = t.short_split(rng, k, P.ProtocolConfig())
                s_rows.append(window_rows[rng.integers(0, len(window_rows), c.support_size)])
            else:
                support, query = t.split(rng, c.max_support_demos)
                s_rows.append(t.sample(rng, support, c.support_size))
            q_rows.append(t.sample(rng, query, c.query_size))
        s_obs, s_acts = stack_rows(chosen, s_rows)
        q_obs, q_acts = stack_rows(chosen, q_rows)
        return {"s_obs": s_obs, "s_acts": s_acts, "q_obs": q_obs, "q_acts": q_acts}

    def objective(
        self, params: Params, lrs: Params, batch: Mapping[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """What meta-training minimises, and what it logs: here the MAML loss alone."""
        loss = self.maml().meta_loss(params, lrs, batch, self.config.vectorize)
        return loss, {"loss_ml": loss.detach()}

    def meta_gradient(
        self, batch: Mapping[str, Tensor]
    ) -> tuple[Params, Params | None, dict[str, Tensor]]:
        """Gradients of :meth:`objective` w.r.t. θ (and the raw rates when learned) and the
        logged values.

        The inner steps are ``torch.func`` transforms; the outer gradient is plain autograd
        through them (faster on CPU than an outer ``torch.func.grad``, same numbers).
        """
        params, lrs = self.params(detach=False), self.inner_lrs(detach=False)
        loss, logs = self.objective(params, lrs, batch)
        learned = self.config.learn_inner_lr
        raws = dict(self._trained().raw_inner_lr.items()) if learned else {}
        leaves = list(params.values()) + list(raws.values())
        grads = torch.autograd.grad(loss, leaves, allow_unused=True, materialize_grads=True)
        g_params = dict(zip(params, grads[: len(params)]))
        g_raws = dict(zip(raws, grads[len(params) :])) if learned else None
        return g_params, g_raws, logs

    def meta_train(self, demos: Mapping[str, Sequence[Any]], seed: int) -> None:
        c = self.config
        rng = seed_all(seed)
        tasks = load_tasks(demos)
        self.net = self.build()
        self.net.policy.norm.set_stats(pooled_obs(tasks))
        optimiser = torch.optim.Adam(self.net.parameters(), lr=c.meta_lr)
        bar = tqdm(range(c.meta_iterations), desc=type(self).__name__, disable=not c.progress)
        for it in bar:
            logs = self.meta_step(optimiser, self.sample_batch(rng, tasks))
            if it % c.log_every == 0 or it == c.meta_iterations - 1:
                self.log_row(iteration=it, **{k: v.item() for k, v in logs.items()})
                bar.set_postfix({k: f"{v.item():.3f}" for k, v in logs.items()})

    def meta_step(
        self, optimiser: torch.optim.Optimizer, batch: Mapping[str, Tensor]
    ) -> dict[str, Tensor]:
        """One outer step: meta-gradient, clipped, then ``optimiser.step()``; returns the logs."""
        net = self._trained()
        g_params, g_raws, logs = self.meta_gradient(batch)
        named = dict(net.policy.named_parameters())
        for k, g in g_params.items():
            named[k].grad = g
        for k, g in (g_raws or {}).items():
            net.raw_inner_lr[k].grad = g
        nn.utils.clip_grad_norm_(net.parameters(), self.config.grad_clip)
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        return logs

    # --- test time ------------------------------------------------------------------------

    def adapt(self, demos: Sequence[Any]) -> Policy:
        """Adapt a copy (the meta-trained parameters are never modified) on the K demos, by the
        inner loop or by BC's fine-tune (``config.adaptation``); K=0: the meta-trained policy."""
        policy = frozen_copy(self._trained().policy)

        def mean_fn(obs: Tensor) -> Tensor:
            return policy(obs)[0]

        if self.config.adaptation == "finetune":
            stats = finetune(policy, demos, self.config, mean_fn)
            return MeanActionPolicy(mean_fn, stats)
        stats = adapt_stats()
        if demos and self.config.inner_steps:
            obs, acts = as_tensors([_head(t, self.config.adapt_window) for t in demos])
            steps, maml = self.config.inner_steps, self.maml()
            if self.config.inner_guard:
                adapted, _ = maml.adapt_guarded(self.params(), self.inner_lrs(), obs, acts, steps)
                passes = 2 * steps + 1  # a gradient and a loss per step, the starting loss
                stats = adapt_stats(steps, passes, passes * len(obs))
            else:
                adapted = maml.adapt(
                    self.params(), self.inner_lrs(), obs, acts, steps=steps, first_order=True
                )
                stats = adapt_stats(steps, steps, steps * len(obs))
            with torch.no_grad():
                for k, p in policy.named_parameters():
                    p.copy_(adapted[k])
        return MeanActionPolicy(mean_fn, stats)


def _head(traj: Any, n: int | None) -> Any:
    """The first ``n`` transitions of a demonstration (all of them when ``n`` is None)."""
    if n is None or n >= len(traj.acts):
        return traj
    return cut(traj, P.DemoWindow(index=0, start=0, stop=n))


def _key(param_name: str) -> str:
    """A parameter name as a ParameterDict key (no dots)."""
    return param_name.replace(".", "__")
