"""Checks of user-given scalars: one wording for every "bad input" error of the package.

Each check returns the value in its canonical Python type or raises ``TypeError`` (wrong kind of
value) or ``ValueError`` (right kind, outside the accepted range), naming the argument and what
it accepts. NumPy scalars count as the numbers they hold; ``bool`` never counts as a number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np


def show(value: object, limit: int = 60) -> str:
    """A short ``repr`` for error messages (never fails, even for a 5000-digit int)."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is still shown by its type
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bound(x: float) -> str:
    return "inf" if x == math.inf else "-inf" if x == -math.inf else f"{x:g}"


def range_text(low: float, high: float, unit: str = "") -> str:
    """``[low, high] unit``, as every message writes an accepted range."""
    return f"[{_bound(low)}, {_bound(high)}]" + (f" {unit}" if unit else "")


def real(name: str, value: object, low: float = -math.inf, high: float = math.inf,
         unit: str = "") -> float:  # fmt: skip
    """``value`` as a finite float in [low, high]."""
    accepted = range_text(low, high, unit)
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise TypeError(
            f"{name} must be a real number in {accepted}, got {type(value).__name__} {show(value)}"
        )
    try:
        x = float(value)
    except OverflowError:
        raise ValueError(f"{name}={show(value)} is outside its accepted range {accepted}") from None
    if not math.isfinite(x) or not low <= x <= high:
        raise ValueError(f"{name}={show(value)} is outside its accepted range {accepted}")
    return x


def integer(name: str, value: object, low: int = 0, high: float = math.inf) -> int:
    """``value`` as an int in [low, high]."""
    accepted = range_text(low, high)
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise TypeError(
            f"{name} must be an integer in {accepted}, got {type(value).__name__} {show(value)}"
        )
    if not low <= value <= high:
        raise ValueError(f"{name}={show(value)} is outside its accepted range {accepted}")
    return int(value)


def flag(name: str, value: object) -> bool:
    """``value`` as a bool: only ``True``/``False`` (or NumPy's), never a truthy string."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {show(value)}")
    return bool(value)


SeedLike = int | Sequence[int] | np.random.SeedSequence | None


def seed(name: str, value: object) -> SeedLike:
    """A NumPy seed: None, a non-negative int, a sequence of them, or a ``SeedSequence``."""
    if value is None or isinstance(value, np.random.SeedSequence):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if not value:
            raise ValueError(f"{name} must not be an empty sequence")
        return tuple(integer(f"{name}[{i}]", v) for i, v in enumerate(value))
    if isinstance(value, Integral) and not isinstance(value, bool | np.bool_):
        return integer(name, value)
    raise TypeError(
        f"{name} must be None, a non-negative int, a sequence of them or a numpy SeedSequence, "
        f"got {type(value).__name__} {show(value)}"
    )
