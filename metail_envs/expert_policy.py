"""The experts' on-disk policy format: tensors in a weights-only file, the architecture as JSON.

An expert is stored as ``experts/<key>.pt``, the state dict of a stable-baselines3 PPO
``MlpPolicy`` (actor, critic and ``log_std``, under SB3's names; observation normalisation already
folded into the first layers), and its architecture, a small JSON object in the manifest::

    {"type": "sb3-mlp", "obs_dim": 11, "act_dim": 3, "pi": [64, 64], "vf": [64, 64],
     "activation": "tanh", "action_low": [-1, -1, -1], "action_high": [1, 1, 1]}

No code runs from either: the file is read with ``torch.load(weights_only=True)`` (plain tensors
only, anything else refused) and its keys and shapes must be exactly those the architecture
implies. :class:`MlpExpert` computes SB3's deterministic action with the same torch operations
(``Linear``/activation layers, then a clip to the action bounds), so its actions are SB3's.

torch is imported inside functions: ``import metail_envs`` stays light.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

ARCH_TYPE = "sb3-mlp"
ACTIVATIONS = ("tanh", "relu")
ARCH_FIELDS = ("type", "obs_dim", "act_dim", "pi", "vf", "activation", "action_low", "action_high")


class ExpertFormatError(ValueError):
    """An expert file or architecture that is not the plain format above (the message says
    which field or key)."""


def check_arch(arch: Any) -> dict[str, Any]:
    """``arch`` if it is a well-formed architecture record, else :class:`ExpertFormatError`."""
    if not isinstance(arch, dict):
        raise ExpertFormatError(f"arch must be a JSON object, got {type(arch).__name__}")
    missing = [k for k in ARCH_FIELDS if k not in arch]
    if missing:
        raise ExpertFormatError(f"arch lacks field(s) {missing}")
    extra = sorted(set(arch) - set(ARCH_FIELDS))
    if extra:
        raise ExpertFormatError(f"arch has unknown field(s) {extra}")
    if arch["type"] != ARCH_TYPE:
        raise ExpertFormatError(f"arch.type must be {ARCH_TYPE!r}, got {arch['type']!r}")
    for name in ("obs_dim", "act_dim"):
        if not _pos_int(arch[name]):
            raise ExpertFormatError(f"arch.{name} must be a positive int, got {arch[name]!r}")
    for name in ("pi", "vf"):
        sizes = arch[name]
        if not isinstance(sizes, list) or not all(_pos_int(s) for s in sizes):
            raise ExpertFormatError(f"arch.{name} must be a list of positive ints, got {sizes!r}")
    if arch["activation"] not in ACTIVATIONS:
        raise ExpertFormatError(
            f"arch.activation must be one of {list(ACTIVATIONS)}, got {arch['activation']!r}"
        )
    for name in ("action_low", "action_high"):
        bound = arch[name]
        if (
            not isinstance(bound, list)
            or len(bound) != arch["act_dim"]
            or not all(_finite(b) for b in bound)
        ):
            raise ExpertFormatError(
                f"arch.{name} must be a list of act_dim={arch['act_dim']} finite numbers, "
                f"got {bound!r}"
            )
    if any(lo > hi for lo, hi in zip(arch["action_low"], arch["action_high"])):
        raise ExpertFormatError("arch.action_low must not exceed arch.action_high")
    return arch


def expected_shapes(arch: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The state-dict keys and shapes an architecture implies (SB3's ``ActorCriticPolicy``
    names: the MLPs' ``Linear`` layers sit at even indices, activations between them)."""
    shapes: dict[str, tuple[int, ...]] = {"log_std": (arch["act_dim"],)}
    for net, sizes in (("policy_net", arch["pi"]), ("value_net", arch["vf"])):
        width = arch["obs_dim"]
        for i, size in enumerate(sizes):
            shapes[f"mlp_extractor.{net}.{2 * i}.weight"] = (size, width)
            shapes[f"mlp_extractor.{net}.{2 * i}.bias"] = (size,)
            width = size
        head, out = ("action_net", arch["act_dim"]) if net == "policy_net" else ("value_net", 1)
        shapes[f"{head}.weight"] = (out, width)
        shapes[f"{head}.bias"] = (out,)
    return shapes


def read_state_dict(path: str | Path, arch: dict[str, Any]) -> dict[str, Any]:
    """The tensors of an expert file, read without unpickling code and checked against
    ``arch`` (every key present, none extra, every shape as implied, floating point)."""
    import pickle

    import torch

    check_arch(arch)
    try:
        sd = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExpertFormatError(
            f"{path} is not a weights-only tensor file (refused by torch.load(weights_only=True): "
            f"{first})"
        ) from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ExpertFormatError(f"{path} must hold a dict of tensors (a state dict)")
    want = expected_shapes(arch)
    if set(sd) != set(want):
        raise ExpertFormatError(
            f"{path}: state-dict keys do not match arch (missing {sorted(set(want) - set(sd))}, "
            f"unexpected {sorted(set(sd) - set(want))})"
        )
    for key, shape in want.items():
        t = sd[key]
        if tuple(t.shape) != shape or not t.is_floating_point():
            raise ExpertFormatError(
                f"{path}: {key} has shape {tuple(t.shape)} {t.dtype}, arch implies {shape} float"
            )
    return sd


class MlpExpert:
    """A shipped expert: SB3's deterministic PPO action on raw observations.

    ``predict(obs, deterministic=True)`` takes one observation ``(obs_dim,)`` or a batch
    ``(n, obs_dim)`` and returns ``(actions, None)`` like SB3; ``act(obs)`` returns the actions.
    """

    def __init__(self, state_dict: dict[str, Any], arch: dict[str, Any]) -> None:
        import torch

        check_arch(arch)
        self.arch = arch
        act_fn = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[arch["activation"]]
        layers: list[Any] = []
        for i in range(len(arch["pi"])):
            layers += [self._linear(state_dict, f"mlp_extractor.policy_net.{2 * i}"), act_fn()]
        layers.append(self._linear(state_dict, "action_net"))
        self.net = torch.nn.Sequential(*layers).eval()
        self.low = np.asarray(arch["action_low"], dtype=np.float32)
        self.high = np.asarray(arch["action_high"], dtype=np.float32)
        self.obs_dim = arch["obs_dim"]

    @staticmethod
    def _linear(sd: dict[str, Any], name: str):
        import torch

        w, b = sd[f"{name}.weight"], sd[f"{name}.bias"]
        layer = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            layer.weight.copy_(w.float())
            layer.bias.copy_(b.float())
        return layer

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic actions for a batch ``(n, obs_dim)`` (or one observation)."""
        import torch

        x = np.asarray(obs, dtype=np.float32)
        if x.shape[-1:] != (self.obs_dim,) or x.ndim not in (1, 2):
            raise ValueError(
                f"obs must have shape ({self.obs_dim},) or (n, {self.obs_dim}), got {x.shape}"
            )
        with torch.no_grad():
            a = self.net(torch.as_tensor(x.reshape(-1, self.obs_dim))).numpy()
        a = np.clip(a, self.low, self.high)
        return a[0] if x.ndim == 1 else a

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """SB3's ``predict`` for deterministic actions (the experts only act deterministically)."""
        if not deterministic:
            raise ValueError(
                "deterministic must be True: the shipped experts act deterministically "
                "(export an SB3 zip with baselines.experts.convert to sample actions)"
            )
        return self.act(observation), None


def load_expert_file(path: str | Path, arch: dict[str, Any]) -> MlpExpert:
    """The expert stored in ``path`` with architecture ``arch`` (both checked)."""
    import torch

    torch.set_num_threads(1)
    return MlpExpert(read_state_dict(path, arch), arch)


def _pos_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
