"""The before/after table of the scored experts, from two manifests on disk."""

from __future__ import annotations

import json

from baselines.experts.expert_table import main


def _manifest(path, rates: dict[str, float]) -> str:
    tasks = {
        t: {"expert": {"mean_return": 3000.0 * r, "std_return": 10.0, "completion_rate": r}}
        for t, r in rates.items()
    }
    path.write_text(json.dumps({"tasks": tasks}))
    return str(path)


def test_table_counts_the_experts_at_the_bar_and_marks_the_rest(tmp_path, capsys):
    before = _manifest(
        tmp_path / "before.json",
        {"hopper-v1/test/00": 0.5, "hopper-v1/ood/00": 0.95, "hopper-v1/train/00": 0.1},
    )
    after = _manifest(
        tmp_path / "after.json",
        {"hopper-v1/test/00": 0.92, "hopper-v1/ood/00": 0.88, "hopper-v1/train/00": 1.0},
    )
    assert main([before, after]) == 0
    out = capsys.readouterr().out
    assert "| hopper-v1/test/00 | 1500 ± 10 | 50% | 2760 ± 10 | 92% |" in out
    assert "| hopper-v1/ood/00 | 2850 ± 10 | 95% | 2640 ± 10 | 88% ✗ |" in out
    assert "train/00" not in out  # training tasks are not scored
    assert "1 of 2 before, 1 of 2 after" in out


def test_an_unreadable_manifest_is_a_one_line_error(tmp_path, capsys):
    after = _manifest(tmp_path / "after.json", {"hopper-v1/test/00": 1.0})
    assert main([str(tmp_path / "missing.json"), after]) == 2
    assert "cannot read manifest" in capsys.readouterr().err
