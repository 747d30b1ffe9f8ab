"""The third-party agent example of the docs runs, as written, through ``metail evaluate``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tinybench import tiny_config

from metail_envs.benchmark import evaluate

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- example: third-party-agent -->"


def example_code(doc: Path) -> str:
    text = doc.read_text()
    match = re.search(re.escape(MARKER) + r"\s*```python\n(.*?)```", text, re.S)
    assert match, f"{doc} has no python block after {MARKER}"
    return match.group(1)


@pytest.mark.filterwarnings("ignore:.*below the protocol's minimum")
@pytest.mark.parametrize("doc", ["docs/protocol.md", "README.md"])
def test_third_party_agent_example_runs(doc, tmp_path, monkeypatch, tiny_data):
    path = ROOT / doc
    if MARKER not in path.read_text():
        pytest.skip(f"{doc} does not show the example (marker {MARKER!r}) yet")
    code = example_code(path)
    assert len(code.strip().splitlines()) < 40
    (tmp_path / "my_agent.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    [result] = evaluate(
        "my_agent:LinearBC", out=tmp_path / "out", seeds=1, config=tiny_config(),
        workers=2, data_dir=tiny_data, progress=False,
    )  # fmt: skip
    doc_ = json.loads(result.read_text())
    assert doc_["meta_train"]["status"] == "ok"
    assert [j["status"] for j in doc_["jobs"]] == ["ok"] * 4, [j["error"] for j in doc_["jobs"]]
