"""Joint IL+ML: one policy, one parameter set θ, trained on ``L_IL(θ) + λ·L_ML(θ)``.

What is optimised, exactly, at every iteration (Adam on θ, and on the raw inner rates when
``learn_inner_lr``)::

    L_IL(θ) = E_{(s, a) ~ pooled}  ℓ(π_θ; s, a)
              (``pooled_size`` pairs drawn from all training tasks' demonstrations: a uniform
              task, then a uniform pair; the policy at θ itself, no adaptation)
    L_ML(θ) = mean over a meta-batch of tasks T of  E_{(s, a) ~ query(T)} ℓ(π_θ'_T; s, a),
              θ'_T = θ - α ⊙ ∇_θ E_{support(T)} ℓ(π_θ)   (``inner_steps`` such steps)
              (exactly MAML-BC's meta-loss, :mod:`baselines.maml_bc`, same support/query split,
              same bounded Meta-SGD rates α)
    minimise  L(θ) = L_IL(θ) + ml_weight · L_ML(θ)

with ``ℓ`` the BC loss (``loss``: squared error of the mean action, or the Gaussian negative
log-likelihood). Both terms act on the same policy: ``L_IL`` on θ, which is what is evaluated
at K=0, and ``L_ML`` on the adapted θ'_T, which is what is evaluated at K>0: test time takes
exactly the ``inner_steps`` steps, with the rates, that ``L_ML`` trained through
(``adaptation="inner_loop"``), or fine-tunes θ with BC's budget (``adaptation="finetune"``).
The gradient of ``L_ML`` goes through the inner steps unless ``first_order``. Both terms and
their sum are logged every ``log_every`` iterations (``agent.log``, saved in the checkpoint's
``agent.json``). ``ml_weight=0`` is pooled BC (the rates then never move); a large
``ml_weight`` approaches MAML-BC. The support draw (``p_short``: half of the supports are the
protocol's short-track windows) was chosen on held-out training tasks through ``metail validate``
(``results/validation/``, docs/baselines.md): with whole-demonstration supports only, the
3-step inner loop had never seen an episode-start window and made every short-track job worse
than K=0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from baselines.batches import TaskDemos, sample_pooled
from baselines.config import NonNegativeFloat, PositiveInt
from baselines.maml_bc import MAMLBCAgent, MAMLBCConfig, Params


class JointConfig(MAMLBCConfig, file="joint"):
    """MAML-BC's config plus the pooled term: its weight λ and its batch size."""

    ml_weight: NonNegativeFloat
    """λ, the weight of the meta-learning term ``L_ML``."""
    pooled_size: PositiveInt
    """(obs, action) pairs of the pooled imitation term ``L_IL`` per iteration."""


class JointAgent(MAMLBCAgent):
    """MAML-BC's machinery with the pooled BC loss added to the meta-objective."""

    config_cls = JointConfig
    config: JointConfig

    def sample_batch(self, rng: np.random.Generator, tasks: Sequence[TaskDemos]) -> dict[str, Any]:
        batch = super().sample_batch(rng, tasks)
        batch["p_obs"], batch["p_acts"] = sample_pooled(rng, tasks, self.config.pooled_size)
        return batch

    def objective(
        self, params: Params, lrs: Params, batch: Mapping[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        maml = self.maml()
        loss_il = maml.loss(params, batch["p_obs"], batch["p_acts"])
        loss_ml = maml.meta_loss(params, lrs, batch, self.config.vectorize)
        loss = loss_il + self.config.ml_weight * loss_ml
        logs = {"loss": loss.detach(), "loss_il": loss_il.detach(), "loss_ml": loss_ml.detach()}
        return loss, logs
