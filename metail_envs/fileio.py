"""Atomic writes: a crash leaves the old file (or directory) or the new one, never half of one.

Every file the benchmark and the expert pipeline rewrite in place (result files, manifests,
checkpoints, training state) goes through :func:`atomic_write`: the content is written to a
temporary sibling, then renamed over the target. Standard library only, so any layer may use it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["TMP_PREFIX", "atomic_write", "write_json_atomic"]

TMP_PREFIX = ".tmp-"
"""Temporary siblings are named ``.tmp-<pid>-<random>-<name>``: hidden, and ending like the
target, so that writers which add a suffix they find missing (SB3's ``.zip``) do not."""


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then rename it onto ``path``.

    ``write`` may create a file or a directory; a directory replaces the old one whole. Files
    are flushed to disk before the rename. On any error the temporary is removed and the old
    ``path`` is left as it was. Returns ``path``.
    """
    path = Path(path)
    if not path.name:
        raise ValueError(f"path must name a file or directory, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{path.name}")
    try:
        write(tmp)
        if not tmp.exists():
            raise FileNotFoundError(f"the writer for {path} did not create {tmp}")
        if tmp.is_file():
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
        else:
            _remove(path)  # a rename cannot replace a non-empty directory
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return path


def write_json_atomic(
    path: str | Path, doc: Any, *, sort_keys: bool = False, allow_nan: bool = True
) -> Path:
    """Write ``doc`` as indented JSON (one space, a final newline) through :func:`atomic_write`."""
    text = json.dumps(doc, indent=1, sort_keys=sort_keys, allow_nan=allow_nan) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))
