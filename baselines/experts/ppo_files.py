"""The expert pipeline's PPO files, read without running code from them.

SB3 saves a PPO as a zip: its tensors (``policy.pth``, ``policy.optimizer.pth``) and ``data``,
a JSON document whose non-JSON values (the policy class, the spaces, the schedules, the episode
buffer) are cloudpickled; ``PPO.load`` unpickles them, and so runs whatever code a zip holds.
``VecNormalize.save`` is a pickle. The pipeline reads neither way:

- tensors: a ``.pth`` member is read with ``torch.load(weights_only=True)`` (tensors and plain
  containers; anything else refused) into a PPO the pipeline builds itself (from its training
  config, or from the plain description below);
- ``data``: parsed with ``json`` only; what is used of it is the plain text SB3 writes beside
  each pickle (``net_arch``, the activation's class name, the spaces' shape, dtype and bounds),
  never a ``:serialized:`` value;
- the rest of a resumable checkpoint (VecNormalize's statistics, the step counters, the buffer
  of training episodes) is a JSON file beside the zip (:func:`write_state`), tied to it by the
  zip's sha256.

Writing still makes ordinary SB3 zips, so a user's ``PPO.load`` reads the pipeline's output.
(SB3 2.2.1's ``set_parameters(path)`` does not decode ``data`` either -- it calls
``load_from_zip_file(..., load_data=False)`` -- but reads the ``.pth`` members with ``th.load``
and no ``weights_only``, which is weights-only only where torch's default says so; hence the
members are read here, explicitly.)
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from metail_envs.fileio import write_json_atomic

STATE_FORMAT = "metail-ppo-checkpoint/1"
"""The ``format`` of a checkpoint's JSON (:func:`write_state`)."""
ACTIVATIONS = {
    "<class 'torch.nn.modules.activation.Tanh'>": "tanh",
    "<class 'torch.nn.modules.activation.ReLU'>": "relu",
}
"""How SB3's ``data`` names the activations the pipeline builds (``TrainConfig.ppo_kwargs``)."""
WHY = "loading a pickle runs whatever code it holds"
_POLICY_KWARGS = {":type:", ":serialized:", "net_arch", "activation_fn"}
"""The keys of a plain MlpPolicy's ``policy_kwargs`` in ``data`` (SB3's two, then its items)."""


class CheckpointError(ValueError):
    """A PPO file the pipeline refuses; the message names the file and says why."""


@dataclass(frozen=True)
class ZipContents:
    """An SB3 zip as read here: its state dicts by member stem (``policy``, and
    ``policy.optimizer`` when asked for) and its ``data`` as plain JSON."""

    path: Path
    tensors: dict[str, Any]
    data: dict[str, Any]


def read_zip(path: str | Path, optimizer: bool = False) -> ZipContents:
    """The policy (and, with ``optimizer``, the optimizer) state of an SB3 zip, read
    weights-only, and its ``data`` member parsed as JSON; nothing is unpickled."""
    path = Path(path)
    refuse_pickle(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} is missing")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not an SB3 zip (not a zip archive)")
    members = ["policy.pth", *(["policy.optimizer.pth"] if optimizer else [])]
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        missing = [m for m in ["data", *members] if m not in names]
        if missing:
            raise CheckpointError(f"{path} is not an SB3 PPO zip: it lacks {missing}")
        try:
            data = json.loads(archive.read("data").decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{path}: its data member is not JSON ({e})") from None
        tensors = {m.removesuffix(".pth"): _weights_only(path, m, archive.read(m)) for m in members}
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: its data member must be a JSON object")
    return ZipContents(path, tensors, data)


def _weights_only(path: Path, member: str, blob: bytes) -> Any:
    import torch

    try:
        obj = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever torch refuses, the file is refused
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(
            f"{path}: member {member} is not a weights-only tensor file (refused by "
            f"torch.load(weights_only=True): {first})"
        ) from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: member {member} must hold a state dict")
    return obj


def refuse_pickle(path: Path) -> None:
    """A ``.pkl`` where a checkpoint or an expert is expected: refused, by name."""
    if path.suffix == ".pkl":
        raise CheckpointError(f"{path} is a pickle: the pipeline never loads one ({WHY})")


def policy_spec(contents: ZipContents) -> dict[str, Any]:
    """``{"pi": [...], "vf": [...], "activation": "tanh" | "relu"}`` from the plain text of the
    zip's ``policy_kwargs`` (an ``MlpPolicy`` with default options only)."""
    kw = contents.data.get("policy_kwargs")
    if not isinstance(kw, dict) or set(kw) - _POLICY_KWARGS:
        raise CheckpointError(
            f"{contents.path}: policy_kwargs must hold net_arch and activation_fn only, got "
            f"{sorted(kw) if isinstance(kw, dict) else kw!r}"
        )
    act = ACTIVATIONS.get(kw.get("activation_fn", "<class 'torch.nn.modules.activation.Tanh'>"))
    if act is None:
        raise CheckpointError(
            f"{contents.path}: activation {kw['activation_fn']} is not one of {sorted(ACTIVATIONS)}"
        )
    return {**net_arch(kw.get("net_arch", [64, 64]), contents.path), "activation": act}


def net_arch(arch: Any, where: Any) -> dict[str, list[int]]:
    """SB3's ``net_arch`` (a list: the same sizes for actor and critic; or ``{"pi", "vf"}``)
    as ``{"pi": [...], "vf": [...]}``."""
    if isinstance(arch, list):
        arch = {"pi": arch, "vf": arch}
    ok = isinstance(arch, dict) and set(arch) == {"pi", "vf"}
    if not ok or not all(isinstance(n, int) and n > 0 for v in arch.values() for n in v):
        raise CheckpointError(f"{where}: net_arch must be a list of sizes or {{pi, vf}}: {arch!r}")
    return {"pi": list(arch["pi"]), "vf": list(arch["vf"])}


def check_policy(contents: ZipContents, policy_kwargs: dict[str, Any]) -> None:
    """The zip's policy must be the one ``policy_kwargs`` (``TrainConfig.ppo_kwargs()``'s)
    builds: its tensors go into such a model, so a different activation must not pass."""
    acts = {"Tanh": "tanh", "ReLU": "relu"}
    want = {
        **net_arch(policy_kwargs["net_arch"], "the config"),
        "activation": acts[policy_kwargs["activation_fn"].__name__],
    }
    got = policy_spec(contents)
    if got != want:
        raise CheckpointError(
            f"{contents.path} holds the policy {got}; the config builds {want}: use the config "
            "the file was trained with"
        )


def spaces(contents: ZipContents) -> tuple[gym.spaces.Box, gym.spaces.Box]:
    """The observation and action spaces of the zip, from their plain text (Boxes with the
    same bound on every dimension: the Hopper's)."""

    def bound(d: dict[str, Any], key: str) -> float:
        if d.get(f"{key}_repr") is not None:  # Gymnasium 0.29: the one bound as text
            return float(d[f"{key}_repr"])
        values = {float(x) for x in str(d[key]).strip("[]").split()}  # 1.x: the array's text
        if len(values) != 1:
            raise ValueError(f"{key} differs between dimensions")
        return values.pop()

    def box(name: str) -> gym.spaces.Box:
        d = contents.data.get(name)
        try:
            low, high = bound(d, "low"), bound(d, "high")
            shape, dtype = tuple(int(n) for n in d["_shape"]), np.dtype(d["dtype"])
        except (TypeError, KeyError, ValueError, AttributeError):
            raise CheckpointError(
                f"{contents.path}: {name} must be a Box with one bound for every dimension"
            ) from None
        return gym.spaces.Box(low, high, shape, dtype)

    return box("observation_space"), box("action_space")


def load_tensors(model: Any, contents: ZipContents) -> None:
    """Put the zip's policy (and optimizer, if read) state into ``model``'s, which must have
    the same layers: the state ``PPO.load`` restores, without its pickles."""
    try:
        model.policy.load_state_dict(contents.tensors["policy"], strict=True)
        if "policy.optimizer" in contents.tensors:
            model.policy.optimizer.load_state_dict(contents.tensors["policy.optimizer"])
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(
            f"{contents.path}: its tensors do not fit the model ({first})"
        ) from None


def load_policy(path: str | Path) -> Any:
    """An SB3 zip's policy as a PPO (``predict``, ``policy``) built from the zip's plain
    description, its weights read weights-only: for evaluation and conversion."""
    import torch
    from stable_baselines3 import PPO

    contents = read_zip(path)
    spec = policy_spec(contents)
    acts = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    kwargs = {
        "net_arch": {"pi": spec["pi"], "vf": spec["vf"]},
        "activation_fn": acts[spec["activation"]],
    }
    model = PPO("MlpPolicy", SpacesOnly(*spaces(contents)), policy_kwargs=kwargs, device="cpu")
    load_tensors(model, contents)
    return model


class SpacesOnly(gym.Env):
    """Just the two spaces SB3 needs to build a PPO (it never steps this environment)."""

    def __init__(self, observation_space: gym.spaces.Box, action_space: gym.spaces.Box) -> None:
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(self.observation_space.shape), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        return np.zeros(self.observation_space.shape), 0.0, True, False, {}


# --- the JSON half of a resumable checkpoint -----------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _rms(rms: Any) -> dict[str, Any] | None:
    if rms is None:
        return None
    return {
        "mean": np.asarray(rms.mean, dtype=np.float64).tolist(),
        "var": np.asarray(rms.var, dtype=np.float64).tolist(),
        "count": float(rms.count),
    }


def write_state(path: str | Path, model: Any, vecnorm: Any, zip_path: str | Path) -> Path:
    """Write what a checkpoint holds besides the tensors of ``zip_path`` (written first): the
    step counters, the buffer of training episodes and VecNormalize's settings and running
    statistics (its ``returns`` restart at 0 on load, as after ``VecNormalize.load``)."""
    zip_path = Path(zip_path)
    doc = {
        "format": STATE_FORMAT,
        "zip": {"file": zip_path.name, "sha256": sha256(zip_path)},
        "num_timesteps": int(model.num_timesteps),
        "episode_num": int(model._episode_num),
        "n_updates": int(model._n_updates),
        "ep_info_buffer": [_plain(e) for e in (model.ep_info_buffer or [])],
        "ep_success_buffer": [_plain(e) for e in (model.ep_success_buffer or [])],
        "vecnormalize": {
            "norm_obs": bool(vecnorm.norm_obs),
            "norm_reward": bool(vecnorm.norm_reward),
            "clip_obs": float(vecnorm.clip_obs),
            "clip_reward": float(vecnorm.clip_reward),
            "gamma": float(vecnorm.gamma),
            "epsilon": float(vecnorm.epsilon),
            "obs_rms": _rms(getattr(vecnorm, "obs_rms", None)) if vecnorm.norm_obs else None,
            "ret_rms": _rms(vecnorm.ret_rms),
        },
    }
    return write_json_atomic(path, doc, allow_nan=False)


def _plain(value: Any) -> Any:
    """Monitor's episode infos (``{"r", "l", "t"}``) as JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_state(path: str | Path, zip_path: str | Path) -> dict[str, Any]:
    """A checkpoint's JSON (:func:`write_state`), checked field by field and against the zip
    it was written with."""
    path, zip_path = Path(path), Path(zip_path)
    refuse_pickle(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} is missing")
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not JSON ({e}); a checkpoint's state is JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: format must be {STATE_FORMAT!r}")
    if not isinstance(doc.get("zip"), dict) or doc["zip"].get("sha256") != sha256(zip_path):
        raise CheckpointError(
            f"{path} was written with another {zip_path.name} (sha256 differs): the run was "
            "interrupted between writing the two, or the files come from different runs"
        )
    for key in ("num_timesteps", "episode_num", "n_updates"):
        _need(isinstance(doc.get(key), int) and doc[key] >= 0, path, key, "an int >= 0")
    _need(
        isinstance(doc.get("ep_info_buffer"), list)
        and all(isinstance(e, dict) and _number(e.get("r")) for e in doc["ep_info_buffer"]),
        path,
        "ep_info_buffer",
        "a list of episode infos ({r, l, t})",
    )
    _need(isinstance(doc.get("ep_success_buffer"), list), path, "ep_success_buffer", "a list")
    vn = doc.get("vecnormalize")
    _need(isinstance(vn, dict), path, "vecnormalize", "an object")
    for key in ("norm_obs", "norm_reward"):
        _need(isinstance(vn.get(key), bool), path, f"vecnormalize.{key}", "true or false")
    for key in ("clip_obs", "clip_reward", "gamma", "epsilon"):
        _need(_number(vn.get(key)), path, f"vecnormalize.{key}", "a finite number")
    _check_rms(vn.get("ret_rms"), path, "vecnormalize.ret_rms", ())
    if vn["norm_obs"]:
        _check_rms(vn.get("obs_rms"), path, "vecnormalize.obs_rms", None)
    return doc


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _need(ok: bool, path: Path, field: str, what: str) -> None:
    if not ok:
        raise CheckpointError(f"{path}: {field} must be {what}")


def _check_rms(rms: Any, path: Path, field: str, shape: tuple | None) -> None:
    _need(
        isinstance(rms, dict) and set(rms) == {"mean", "var", "count"},
        path,
        field,
        "{mean, var, count}",
    )
    mean, var = np.asarray(rms["mean"], dtype=object), np.asarray(rms["var"], dtype=object)
    ok = mean.shape == var.shape and (shape is None or mean.shape == shape) and mean.ndim <= 1
    ok = ok and all(_number(x) for x in [*mean.ravel(), *var.ravel(), rms["count"]])
    _need(ok and all(v >= 0 for v in var.ravel()), path, field, "numbers (var >= 0) of one shape")


def make_vecnormalize(venv: Any, state: dict[str, Any], path: str | Path) -> Any:
    """A training-mode VecNormalize over ``venv`` with the settings and running statistics of
    a checkpoint's ``state`` (read from ``path``)."""
    from stable_baselines3.common.vec_env import VecNormalize

    vn = state["vecnormalize"]
    settings = ("norm_obs", "norm_reward", "clip_obs", "clip_reward", "gamma", "epsilon")
    vecnorm = VecNormalize(venv, training=True, **{k: vn[k] for k in settings})
    stats = [("ret_rms", vecnorm.ret_rms)]
    if vn["norm_obs"]:
        stats.append(("obs_rms", vecnorm.obs_rms))
    for name, rms in stats:
        mean = np.asarray(vn[name]["mean"], dtype=np.float64)
        if mean.shape != rms.mean.shape:
            raise CheckpointError(
                f"{path}: vecnormalize.{name} has shape {mean.shape}, the environment's "
                f"{rms.mean.shape}"
            )
        rms.mean, rms.var = mean, np.asarray(vn[name]["var"], dtype=np.float64)
        rms.count = float(vn[name]["count"])
    return vecnorm


def restore_counters(model: Any, state: dict[str, Any]) -> None:
    """The step counters and episode buffers ``PPO.load`` restores (what a resumed run logs
    and schedules by)."""
    model.num_timesteps = state["num_timesteps"]
    model._episode_num = state["episode_num"]
    model._n_updates = state["n_updates"]
    model.ep_info_buffer = deque(state["ep_info_buffer"], maxlen=model._stats_window_size)
    model.ep_success_buffer = deque(state["ep_success_buffer"], maxlen=model._stats_window_size)
