"""Between SB3 zips and the shipped expert format (:mod:`metail_envs.expert_policy`).

The training stage writes SB3 zips (``expert_data/training/<key>/expert.zip``, read by the
pipeline only, and weights-only: :mod:`baselines.experts.ppo_files`); the data stage converts each
into ``experts/<key>.pt`` (tensors only) plus its architecture, which is what the benchmark loads.
The way back, for people who want an SB3 model (to fine-tune it with PPO, say)::

    metail convert-expert --task hopper-v1/test/03 --out test03.zip

(or ``python -m baselines.experts.convert``, the same command) writes an ordinary SB3 zip from
the shipped format (``PPO.load`` reads it; the same policy and value weights, a fresh
optimizer), without ever unpickling anything from the data directory.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from baselines.experts.ppo_files import SpacesOnly
from metail_envs.expert_policy import (
    ARCH_TYPE,
    ExpertFormatError,
    check_arch,
    expected_shapes,
    read_state_dict,
)
from metail_envs.fileio import atomic_write

_ACTIVATIONS = {"Tanh": "tanh", "ReLU": "relu"}


def sb3_to_plain(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The state dict and architecture of an SB3 PPO with an ``MlpPolicy`` (flatten features,
    no squashing, no gSDE); anything else is refused rather than converted approximately."""
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.torch_layers import FlattenExtractor

    policy = model.policy
    if type(policy) is not ActorCriticPolicy:
        raise ExpertFormatError(f"expected SB3's ActorCriticPolicy, got {type(policy).__name__}")
    if policy.squash_output or policy.use_sde:
        raise ExpertFormatError("squashed or gSDE policies are not supported")
    if not isinstance(policy.features_extractor, FlattenExtractor):
        raise ExpertFormatError("only the flatten features extractor is supported")
    act_name = _ACTIVATIONS.get(policy.activation_fn.__name__)
    if act_name is None:
        raise ExpertFormatError(f"activation {policy.activation_fn.__name__} is not supported")
    obs_space, act_space = policy.observation_space, policy.action_space
    if len(obs_space.shape) != 1 or len(act_space.shape) != 1:
        raise ExpertFormatError("observations and actions must be vectors")

    def sizes(net: Any) -> list[int]:
        return [int(m.out_features) for m in net if hasattr(m, "out_features")]

    arch = {
        "type": ARCH_TYPE,
        "obs_dim": int(obs_space.shape[0]),
        "act_dim": int(act_space.shape[0]),
        "pi": sizes(policy.mlp_extractor.policy_net),
        "vf": sizes(policy.mlp_extractor.value_net),
        "activation": act_name,
        "action_low": [float(x) for x in np.asarray(act_space.low, dtype=np.float64)],
        "action_high": [float(x) for x in np.asarray(act_space.high, dtype=np.float64)],
    }
    check_arch(arch)
    sd = {k: v.detach().cpu().clone().contiguous() for k, v in policy.state_dict().items()}
    want = expected_shapes(arch)
    if {k: tuple(v.shape) for k, v in sd.items()} != want:
        raise ExpertFormatError("the policy's state dict is not the plain MLP its layers imply")
    return sd, arch


def write_plain(model_or_zip: Any, path: str | Path) -> dict[str, Any]:
    """Convert an SB3 model (or the path of its zip, whose tensors are read weights-only) to
    ``path`` (a weights-only file, written atomically and byte-for-byte reproducibly). Returns
    the architecture (for the manifest)."""
    import torch

    model = model_or_zip
    if isinstance(model_or_zip, (str, Path)):
        from baselines.experts.ppo_files import load_policy

        model = load_policy(model_or_zip)
    sd, arch = sb3_to_plain(model)
    buf = io.BytesIO()  # in memory: the archive's inner name does not depend on the file name
    torch.save(sd, buf)
    atomic_write(path, lambda tmp: tmp.write_bytes(buf.getvalue()))
    return arch


def plain_to_sb3(path: str | Path, arch: dict[str, Any], out: str | Path) -> Path:
    """Write an SB3 PPO zip holding the weights of a shipped expert file (read weights-only)."""
    import torch
    from stable_baselines3 import PPO

    check_arch(arch)
    sd = read_state_dict(path, arch)
    low = np.asarray(arch["action_low"], dtype=np.float32)
    high = np.asarray(arch["action_high"], dtype=np.float32)
    env = SpacesOnly(
        gym.spaces.Box(-np.inf, np.inf, (arch["obs_dim"],), np.float64),
        gym.spaces.Box(low, high, dtype=np.float32),
    )
    acts = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    kwargs = {
        "net_arch": {"pi": list(arch["pi"]), "vf": list(arch["vf"])},
        "activation_fn": acts[arch["activation"]],
    }
    model = PPO("MlpPolicy", env, policy_kwargs=kwargs, device="cpu")
    model.policy.load_state_dict(sd, strict=True)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return out if out.suffix == ".zip" else out.with_name(out.name + ".zip")


def export_sb3(task: str, out: str | Path, data_dir: str | Path | None = None) -> Path:
    """A suite task's shipped expert as an SB3 zip at ``out`` (checksummed against the
    manifest first, like every loader)."""
    from metail_envs.data import expert_file

    path, record = expert_file(task, data_dir)
    return plain_to_sb3(path, record["arch"], out)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``metail convert-expert`` and ``python -m baselines.experts.convert``."""
    p.add_argument("--task", required=True, help="task id, e.g. hopper-v1/test/03")
    p.add_argument("--out", required=True, type=Path, help="the SB3 zip to write")
    p.add_argument("--data-dir", type=Path, help="default: METAIL_DATA_DIR or expert_data/")


def run(a: argparse.Namespace) -> int:
    """Write the task's shipped expert as an SB3 zip; print its path."""
    print(export_sb3(a.task, a.out, a.data_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from baselines.cli import module_parser

    return module_parser("baselines.experts.convert", __doc__, add_arguments)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m baselines.experts.convert``, the same as ``metail convert-expert``."""
    a = build_parser().parse_args(argv)
    from metail_envs.data import DataError

    try:
        return run(a)
    except (DataError, KeyError) as e:
        print(f"convert: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
