"""Every ```python block of the README and of the docs (``docs/*.md``) runs, each on its own in a
fresh interpreter, so that they cannot drift from the code. A block may use the shipped data (``expert_data/`` of the
checkout, whose code it runs); it runs in an empty temporary directory, so whatever it writes
stays out of the repo.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of each fenced ```python block of a Markdown text."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in BLOCK.finditer(text)]


BLOCKS = [
    (f"{doc.relative_to(ROOT)}:{line}", code)
    for doc in DOCS
    for line, code in python_blocks(doc.read_text())
]


def test_the_readme_has_python_blocks_and_they_are_found():
    assert sum(where.startswith("README.md:") for where, _ in BLOCKS) >= 3
    sample = "text\n```python\nx = 1\n```\n\n```bash\nls\n```\n```python\ny = 2\n```\n"
    assert python_blocks(sample) == [(2, "x = 1\n"), (9, "y = 2\n")]


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_doc_block_runs_on_its_own(where: str, code: str, tmp_path: Path):
    env = {**os.environ, "METAIL_CACHE_DIR": str(tmp_path / "cache")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env["MINARI_DATASETS_PATH"] = str(tmp_path / "minari")
    script = tmp_path / "block.py"
    script.write_text(code)
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, f"{where} failed:\n{code}\n{out.stderr[-3000:]}"
