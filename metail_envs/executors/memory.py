"""The memory cap of a worker process, so that a memory-hungry job fails alone, not the machine.

The cap is the worker's ``RLIMIT_DATA`` (its heap and private writable mappings: what numpy and
torch allocate on the CPU), set by the worker itself when it starts. An allocation past it fails
in that worker: a ``MemoryError`` (numpy) or an allocator error (torch) fails the job with a
message naming the cap, and a process that dies of it is one dead worker. Address space merely
reserved (``PROT_NONE``, as CUDA does) does not count, unlike ``RLIMIT_AS``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

SHARE = "share"
"""The default cap: :data:`SHARE_FRACTION` of this machine's memory divided among its workers."""
SHARE_FRACTION = 0.8
"""Part of the machine's memory the workers may use together; the rest is the system's and the
scheduling process's."""
GB = 1e9

MemoryCap = float | str | None
"""GB per worker, :data:`SHARE`, or None (no cap)."""


def check_memory_gb(value: Any) -> None:
    """Refuse anything but None, ``"share"`` or a number of GB > 0 (``inf``: no cap)."""
    if value is None or value == SHARE:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(
            f"max_memory_gb={value!r} is invalid; accepted: a number of GB > 0 per worker "
            f"(inf: no cap), or {SHARE!r} ({SHARE_FRACTION:.0%} of the machine's memory / workers)"
        )


def machine_memory() -> int | None:
    """Bytes of memory this process may use: physical memory, or a smaller cgroup limit."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
        break
    return total


def cap_bytes(memory_gb: MemoryCap, workers: int) -> int | None:
    """The per-worker cap in bytes for ``workers`` workers on this machine (None: no cap)."""
    check_memory_gb(memory_gb)
    if memory_gb is None or (memory_gb != SHARE and math.isinf(memory_gb)):
        return None
    if memory_gb == SHARE:
        total = machine_memory()
        return None if total is None else int(SHARE_FRACTION * total / max(1, workers))
    return int(memory_gb * GB)


def describe(cap: int | None) -> str:
    """``"the worker's memory cap of 2.0 GB (--max-memory-gb)"``, or ``""`` without a cap."""
    return "" if cap is None else f"the worker's memory cap of {cap / GB:.1f} GB (--max-memory-gb)"


def apply_cap(cap: int | None) -> None:
    """Set this process's data limit (soft and hard) to ``cap`` bytes; nothing if None."""
    if cap is None:
        return
    try:
        import resource
    except ImportError:  # not a POSIX system: no cap
        return
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def is_memory_error(e: BaseException) -> bool:
    """Whether ``e`` is an allocation that failed (numpy's MemoryError, torch's allocator)."""
    text = str(e)
    return isinstance(e, MemoryError) or "can't allocate memory" in text or "std::bad_alloc" in text
