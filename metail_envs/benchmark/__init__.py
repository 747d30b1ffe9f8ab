"""The metail benchmark: protocol "hopper-v1, protocol v3" (:mod:`.protocol`), the agent interface, evaluation and
leaderboard.

``evaluate(...)`` scores agents and writes result files; ``render_leaderboard(...)`` validates
those files and renders the leaderboard. Agents implement :class:`Agent` (``meta_train``,
``adapt`` -> :class:`Policy`, ``save``/``load``). Importing this package stays light: the runner
and the leaderboard are imported on first use.
"""

from __future__ import annotations

from typing import Any

from .agent import (
    ADAPT_STATS,
    ENTRY_POINT_GROUP,
    Agent,
    AgentSpec,
    Policy,
    StatefulPolicy,
    available_agents,
    resolve_agent,
)
from .protocol import PROTOCOL_NAME, PROTOCOL_VERSION, ProtocolConfig

__all__ = [
    "ENTRY_POINT_GROUP",
    "PROTOCOL_NAME",
    "PROTOCOL_VERSION",
    "Agent",
    "AgentSpec",
    "Policy",
    "StatefulPolicy",
    "ADAPT_STATS",
    "ProtocolConfig",
    "available_agents",
    "evaluate",
    "load_leaderboard",
    "render_leaderboard",
    "resolve_agent",
]

_LAZY = {
    "evaluate": ("runner", "evaluate"),
    "render_leaderboard": ("leaderboard", "render_leaderboard"),
    "load_leaderboard": ("leaderboard", "load_leaderboard"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
