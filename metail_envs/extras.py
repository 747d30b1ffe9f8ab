"""Which extra of ``pyproject.toml`` installs each optional module, so that a command run
without its extra says which one to install instead of failing somewhere inside.

``pip install metail`` gives the environments alone; ``metail[benchmark]`` the evaluation,
leaderboard, experts and baselines; ``metail[imitation]`` adds imitation (the ``bc`` baseline's
meta-training); ``metail[experts]`` adds the Minari export; ``metail[ray]`` the Ray executor.
"""

from __future__ import annotations

import importlib.util

EXTRAS: dict[str, str] = {
    "torch": "benchmark",
    "stable_baselines3": "benchmark",
    "imitation": "imitation",
    "datasets": "benchmark",
    "scipy": "benchmark",
    "tqdm": "benchmark",
    "matplotlib": "benchmark",
    "minari": "experts",
    "ray": "ray",
}
"""Top-level module -> the extra that installs it."""
NEEDS: dict[str, tuple[str, ...]] = {
    "benchmark": ("benchmark",),
    "experts": ("benchmark", "experts"),
    "imitation": ("benchmark", "imitation"),
}
"""What an extra brings with it (``experts`` and ``imitation`` include ``benchmark``)."""


class MissingExtraError(ModuleNotFoundError):
    """A module of an extra that is not installed; ``extra`` is the one a command needs."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"No module named {module!r}", name=module)
        self.extra = extra


def missing_extra_hint(e: ImportError) -> str:
    """``pip install "metail[EXTRA]"`` for a module of an extra that is not installed, else ""."""
    extra = getattr(e, "extra", None) or EXTRAS.get((e.name or "").split(".")[0])
    return f' (this command needs: pip install "metail[{extra}]")' if extra else ""


def require_extra(extra: str) -> None:
    """Raise :class:`MissingExtraError` (a ModuleNotFoundError naming the module and ``extra``)
    if a module that ``extra`` installs is missing; nothing is imported."""
    if extra not in NEEDS:
        raise ValueError(f"extra={extra!r} is invalid; accepted: {', '.join(NEEDS)}")
    for module, of in EXTRAS.items():
        if of in NEEDS[extra] and importlib.util.find_spec(module) is None:
            raise MissingExtraError(module, extra)
