"""``docs/protocol.md`` states the protocol that ``protocol.py`` holds: its constants table names
every constant of the module with the value the code gives, and its calibration table is the one
the committed calibration run wrote. A constant changed without the doc, or a value hand-edited
in the doc, fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from metail_envs.benchmark import protocol

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "protocol.md"
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \| `(.+?)` \| .+ \|$", re.MULTILINE)


def documented(text: str) -> dict[str, object]:
    """``{name: value}`` of each row ``| `NAME` | `literal` | meaning |`` of a Markdown text."""
    return {name: ast.literal_eval(value) for name, value in ROW.findall(text)}


def constants() -> dict[str, object]:
    """The constants ``protocol.py`` itself defines: its upper-case module-level assignments."""
    tree = ast.parse(Path(protocol.__file__).read_text())
    names = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and target.id.isupper() and not target.id.startswith("_")
    ]
    return {name: getattr(protocol, name) for name in names}


def test_documented_reads_the_rows_of_a_constants_table():
    text = (
        "| constant | value | meaning |\n|---|---|---|\n| `K` | `(0, 1)` | the K |\n| x | y | z |"
    )
    assert documented(text) == {"K": (0, 1)}


def test_every_protocol_constant_is_in_the_doc_with_its_value():
    doc = documented(DOC.read_text())
    code = constants()
    assert sorted(code) == sorted(doc), "docs/protocol.md's constants table lacks or adds names"
    wrong = {name: (doc[name], value) for name, value in code.items() if doc[name] != value}
    assert not wrong, f"docs/protocol.md states other values (doc, code): {wrong}"


def test_the_calibration_table_is_the_committed_calibration_run():
    table = (ROOT / "results" / "calibration" / "calibration.md").read_text().strip()
    assert table in DOC.read_text(), (
        "paste results/calibration/calibration.md into docs/protocol.md"
    )
