"""Which meta-trained checkpoints ``metail evaluate`` may load: those its own runner recorded.

Loading a checkpoint runs its agent's code on it (a third-party agent's ``load`` may unpickle),
so a checkpoint is a program, not data. When the runner saves one it writes
:data:`~.results.META_TRAIN_RECORD` beside it: what it was meta-trained with (agent, kwargs,
seed, data hash), its meta-training time, the sha256 of every file of the checkpoint, and an
HMAC of all that under a key that never leaves this machine (:func:`key_path`). A checkpoint is
reused only if its record carries this machine's HMAC and its files still have the recorded
digests, or if the user says they trust it (``trust=True``, ``--trust-checkpoints``): a copied
directory with a copied record is never loaded on its own say-so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..fileio import write_json_atomic
from .results import META_TRAIN_RECORD, canonical_json

KEY_ENV = "METAIL_CHECKPOINT_KEY"
"""Path of the key file, if not the default ``$XDG_CONFIG_HOME/metail/checkpoint.key``."""
TRUST_HINT = (
    "pass --trust-checkpoints (trust_checkpoints=True) only if you trust that directory: "
    "a checkpoint is its agent's code; or remove it to meta-train again"
)


def key_path() -> Path:
    """Where this machine's checkpoint key lives (created, mode 0600, on first use)."""
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV])
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "metail" / "checkpoint.key"


def _key(create: bool) -> bytes | None:
    path = key_path()
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        if not create:
            return None
    except (OSError, ValueError) as e:
        warnings.warn(
            f"checkpoint key {path} is unreadable ({e}): records are unsigned", stacklevel=3
        )
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    except FileExistsError:
        pass  # another process created it first
    except OSError as e:
        warnings.warn(
            f"cannot create the checkpoint key {path} ({e}): checkpoints of this run can be "
            f"reused only with --trust-checkpoints (or set {KEY_ENV} to a writable path)",
            stacklevel=3,
        )
        return None
    return _key(create=False)


def file_digests(checkpoint: Path) -> dict[str, str]:
    """sha256 of every file under ``checkpoint`` (but the record), by relative POSIX path."""
    checkpoint = Path(checkpoint)
    out = {}
    for path in sorted(checkpoint.rglob("*")):
        rel = path.relative_to(checkpoint).as_posix()
        if path.is_file() and rel != META_TRAIN_RECORD:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[rel] = h.hexdigest()
    return out


def _mac(key: bytes, record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "mac"}
    return "hmac-sha256:" + hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


def write_record(checkpoint: Path, trained_with: Mapping[str, Any], time_s: Any) -> None:
    """Record a checkpoint this runner just saved: what it was trained with, its time, its
    files' digests, and this machine's HMAC over them."""
    record: dict[str, Any] = {**trained_with, "time_s": time_s}
    record["files"] = file_digests(checkpoint)
    key = _key(create=True)
    if key is not None:
        record["mac"] = _mac(key, record)
    write_json_atomic(Path(checkpoint) / META_TRAIN_RECORD, record, sort_keys=True, allow_nan=False)


@dataclass(frozen=True)
class Verdict:
    """Whether a checkpoint may be loaded for a run. ``matches``: its record says it was
    meta-trained with the run's agent, kwargs, seed and data; ``usable``: it may be loaded
    (its record is this machine's and its files are unchanged, or it is trusted); ``reason``
    says why not."""

    matches: bool
    usable: bool
    time_s: float | None = None
    reason: str = ""


def check(checkpoint: Path, trained_with: Mapping[str, Any], trust: bool = False) -> Verdict:
    """Judge ``checkpoint`` for a run that needs an agent meta-trained as ``trained_with``."""
    path = Path(checkpoint) / META_TRAIN_RECORD
    if not path.is_file():
        return Verdict(False, False, reason=f"{path} is missing")
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return Verdict(False, False, reason=f"{path} is not readable as JSON: {e}")
    if not isinstance(record, dict):
        return Verdict(False, False, reason=f"{path} is not a JSON object")
    if {k: record.get(k) for k in trained_with} != dict(trained_with):
        return Verdict(False, False, reason=f"{path} records another agent, seed or data")
    time_s = record.get("time_s")
    time_s = time_s if isinstance(time_s, int | float) and not isinstance(time_s, bool) else None
    if trust:
        return Verdict(True, True, time_s)
    key = _key(create=False)
    mac = record.get("mac")
    if key is None or not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, record)):
        why = "was not recorded by metail on this machine (no valid HMAC under its key)"
        return Verdict(True, False, time_s, f"checkpoint {checkpoint} {why}")
    if record.get("files") != file_digests(checkpoint):
        why = "has files that changed since this machine's metail recorded them"
        return Verdict(True, False, time_s, f"checkpoint {checkpoint} {why}")
    return Verdict(True, True, time_s)
