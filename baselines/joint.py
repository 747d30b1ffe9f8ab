"""Joint IL+ML: one parameter set θ trained on ``L_IL(θ) + λ·L_ML(θ)``.

What is optimised, exactly, at every iteration (Adam on θ, and on the inner rates α when
``learn_inner_lr``)::

    L_IL(θ) = E_{(s, a) ~ pooled}  -log π_θ(a | s)
              (``pooled_size`` pairs drawn from all training tasks' demonstrations: a uniform
              task, then a uniform pair; the policy at θ itself, no adaptation)
    L_ML(θ) = mean over a meta-batch of tasks T of  E_{(s, a) ~ query(T)} -log π_θ'_T(a | s),
              θ'_T = θ - α ⊙ ∇_θ E_{support(T)} -log π_θ   (``inner_steps`` such steps)
              (exactly MAML-BC's meta-loss, :mod:`baselines.maml_bc`, same support/query split)
    minimise  L(θ) = L_IL(θ) + ml_weight · L_ML(θ)

(``loss="mse"`` swaps the negative log-likelihood for the squared error of the mean action in
both terms.) The gradient of ``L_ML`` goes through the inner steps unless ``first_order``. Both
terms and their sum are logged every ``log_every`` iterations (``agent.log``, saved in the
checkpoint's ``agent.json``). ``ml_weight=0`` is pooled BC whose test-time adaptation is MAML's
inner steps; a large ``ml_weight`` approaches MAML-BC. Test time is MAML-BC's: the same inner
steps on the K demonstrations, K=0 = θ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from baselines.batches import TaskDemos, sample_pooled
from baselines.maml_bc import MAMLBCAgent, Params


class JointAgent(MAMLBCAgent):
    """MAML-BC's machinery with the pooled BC loss added to the meta-objective."""

    config_name = "joint"

    def sample_batch(self, rng: np.random.Generator, tasks: Sequence[TaskDemos]) -> dict[str, Any]:
        batch = super().sample_batch(rng, tasks)
        batch["p_obs"], batch["p_acts"] = sample_pooled(rng, tasks, self.config["pooled_size"])
        return batch

    def objective(
        self, params: Params, lrs: Params, batch: Mapping[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        maml = self.maml()
        loss_il = maml.loss(params, batch["p_obs"], batch["p_acts"])
        loss_ml = maml.meta_loss(params, lrs, batch)
        loss = loss_il + self.config["ml_weight"] * loss_ml
        logs = {"loss": loss.detach(), "loss_il": loss_il.detach(), "loss_ml": loss_ml.detach()}
        return loss, logs
