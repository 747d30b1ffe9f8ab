"""Every field of every agent config is documented where it is declared: an attribute docstring
on the line after the field (as CleanRL and SB3 do), so that no prose elsewhere restates what a
field is or what its default is."""

from __future__ import annotations

import ast
from pathlib import Path

BASELINES = Path(__file__).parents[1] / "baselines"


def undocumented(source: str) -> list[str]:
    """``Class.field`` of each annotated field of a ``...Config`` class without a docstring."""
    out = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.ClassDef) and node.name.endswith("Config")):
            continue
        for i, st in enumerate(node.body):
            if not (isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name)):
                continue
            if ast.unparse(st.annotation).startswith("ClassVar"):
                continue
            nxt = node.body[i + 1] if i + 1 < len(node.body) else None
            doc = isinstance(nxt, ast.Expr) and isinstance(
                getattr(nxt, "value", None), ast.Constant
            )
            if not (doc and isinstance(nxt.value.value, str)):
                out.append(f"{node.name}.{st.target.id}")
    return out


def test_undocumented_finds_a_field_without_docstring():
    source = 'class AConfig:\n    a: int\n    """A."""\n    b: int\n    c: ClassVar[int] = 1\n'
    assert undocumented(source) == ["AConfig.b"]


def test_every_config_field_has_a_docstring():
    missing = {
        p.name: undocumented(p.read_text())
        for p in sorted(BASELINES.glob("*.py"))
        if undocumented(p.read_text())
    }
    assert not missing, f"config fields without a docstring: {missing}"
    assert any("class MAMLBCConfig" in p.read_text() for p in BASELINES.glob("*.py"))
