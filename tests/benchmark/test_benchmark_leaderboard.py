"""Result-file validation and the leaderboard, on the files of a real tiny run."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

import metail_envs
from metail_envs import data
from metail_envs.benchmark import render_leaderboard
from metail_envs.benchmark import results as R
from metail_envs.benchmark.leaderboard import markdown


def reseal(doc):
    doc = copy.deepcopy(doc)
    doc["checksum"] = R.checksum(doc)
    return doc


def _edit_return(d):
    d["jobs"][0]["returns"][0] += 1.0


def _edit_return_consistently(d):
    j = d["jobs"][0]
    j["returns"][0] += 1.0
    j["mean_return"] = sum(j["returns"]) / len(j["returns"])


def _drop_job(d, complete):
    d["jobs"].pop()
    d["complete"] = complete


TAMPERS = {
    # name: (edit, reseal the checksum?, expected reason)
    "edited": (_edit_return, False, "checksum mismatch"),
    "edited-resealed": (_edit_return, True, "mean_return does not match"),
    "score-inconsistent": (_edit_return_consistently, True, "score does not match"),
    "protocol-v4": (lambda d: d["protocol"].update(version=4), True, "this metail reads 3 "),
    "protocol-v2": (lambda d: d["protocol"].update(version=2), True, "archived in docs/history"),
    "protocol-v1": (lambda d: d["protocol"].update(version=1), True, "archived in docs/history"),
    "other-demos": (lambda d: d["protocol"].update(data_hash="0" * 64), True, "demonstration hash"),
    "other-split": (lambda d: d["protocol"].update(suite_sha256="f" * 64), True, "split-file hash"),
    "other-refs": (
        lambda d: d["references"][d["jobs"][0]["task"]].update(expert_mean=1e6),
        True,
        "differs from this checkout's",
    ),
    "schema-v9": (lambda d: d.update(schema_version=9), True, "schema version 9"),
    "no-jobs-field": (lambda d: d.pop("jobs"), True, "field 'jobs' missing"),
    "incomplete": (lambda d: _drop_job(d, False), True, "incomplete: 3 of 4 jobs"),
    "lying-complete": (lambda d: _drop_job(d, True), True, "'complete' flag disagrees"),
    "failed-with-score": (
        lambda d: d["jobs"][0].update(status="failed", error="x"),
        True,
        "a failed job carries a score",
    ),
}


@pytest.fixture(scope="module")
def expectations(tiny_data):
    suite = metail_envs.load_suite("hopper-v1")
    return dict(
        suite_sha256=suite.sha256,
        data_hash=data.data_hash(suite, data_dir=tiny_data),
        references=data.load_references(suite, data_dir=tiny_data),
    )


@pytest.fixture(scope="module")
def valid_doc(tiny_run):
    out, _ = tiny_run
    return json.loads((out / "results" / "mean" / "seed_000.json").read_text())


def test_a_real_result_file_validates(valid_doc, expectations):
    assert R.validate_result(valid_doc, **expectations) == []


@pytest.mark.parametrize("name", list(TAMPERS))
def test_tampered_and_foreign_files_are_refused(name, valid_doc, expectations):
    edit, resealed, reason = TAMPERS[name]
    doc = copy.deepcopy(valid_doc)
    edit(doc)
    if resealed:
        doc = reseal(doc)
    problems = R.validate_result(doc, **expectations)
    assert any(reason in p for p in problems), problems


def test_unreadable_files_are_refused(tmp_path):
    (tmp_path / "a.json").write_text('{"schema": "metail.result", ')
    (tmp_path / "b.json").write_text("[1, 2]")
    with pytest.raises(R.ResultError, match="not readable as JSON"):
        R.read_result(tmp_path / "a.json")
    with pytest.raises(R.ResultError, match="not a JSON object"):
        R.read_result(tmp_path / "b.json")


def test_leaderboard_scores_valid_files_and_lists_the_rest(tiny_run, tiny_data, tmp_path):
    src, _ = tiny_run
    board_dir = tmp_path / "board"
    shutil.copytree(src / "results", board_dir / "results")
    doc = json.loads((board_dir / "results" / "mean" / "seed_000.json").read_text())
    bad = board_dir / "results" / "bad"
    bad.mkdir()
    for name, (edit, resealed, _) in TAMPERS.items():
        d = copy.deepcopy(doc)
        edit(d)
        (bad / f"{name}.json").write_text(json.dumps(reseal(d) if resealed else d))
    (bad / "truncated.json").write_text(json.dumps(doc)[:200])
    (bad / "duplicate.json").write_text(json.dumps(doc))
    other = copy.deepcopy(doc)
    other["config"]["max_steps"] = 41  # as a run at 41 steps records it, references included
    other["references"] = {t: {**r, "horizon": 41} for t, r in other["references"].items()}
    (bad / "other-settings.json").write_text(json.dumps(reseal(other)))
    for i in (1, 2):  # two different valid files claiming the same agent and seed
        conflict = copy.deepcopy(doc)
        conflict["agent"]["name"], conflict["timing"]["wall_s"] = "twin", float(i)
        (bad / f"conflict-{i}.json").write_text(json.dumps(reseal(conflict)))

    board = render_leaderboard(board_dir, data_dir=tiny_data, baseline="mean", resamples=500)

    names = {e.name for e in board.entries}
    assert names == {"mean", "expert", "random", "metail_test_agents:RaisingAgent"}
    left_out = {x.path.rsplit("/", 1)[-1]: " ".join(x.reasons) for x in board.excluded}
    duplicate = {"duplicate.json", "seed_000.json"} & set(left_out)  # one of the identical two
    assert len(duplicate) == 1 and "duplicate of" in left_out[duplicate.pop()]
    assert set(left_out) - {"duplicate.json", "seed_000.json"} == {f"{n}.json" for n in TAMPERS} | {
        "truncated.json",
        "other-settings.json",
        "conflict-1.json",
        "conflict-2.json",
    }
    assert "conflicting results for 'twin' seed 0" in left_out["conflict-1.json"]
    assert "evaluation settings differ" in left_out["other-settings.json"]
    assert all(e.seeds == [0, 1] for e in board.entries)

    by_name = {e.name: e for e in board.entries}
    for cell in board.cells:
        assert by_name["expert"].summary[cell]["iqm"] == pytest.approx(100.0, abs=1e-4)
        assert by_name["metail_test_agents:RaisingAgent"].failures[cell] == 2
        poi, lo, hi = by_name["expert"].summary[cell]["poi"]["mean"]
        assert 0.0 <= lo <= poi <= hi <= 1.0
        assert "mean" not in by_name["mean"].summary[cell]["poi"]  # the baseline itself

    md = (board_dir / "leaderboard" / "leaderboard.md").read_text()
    assert md == markdown(board)
    assert "NON-STANDARD settings" in md and "hopper-v1, protocol v3" in md
    assert "what task inference still misses" in md  # the context oracle's reading
    assert "| expert (reference) ? | 2 (< 5) | 100.0 [100.0, 100.0]" in md
    assert "adapt exploded on purpose" in md and "4/4" in md
    assert md.index("full K=1 IQM") < md.index("K=0 IQM")  # demonstrations lead, K=0 last
    assert "P(> mean)" in md and "duplicate.json" in md
    adaptation = md.split("## Adaptation against K=0, per task")[1]
    assert "| expert (reference) | full K=1 | 0/2 | 0/2 | – |" in adaptation  # K=1 equals K=0
    page = (board_dir / "leaderboard" / "leaderboard.html").read_text()
    assert "<table>" in page and "iqm.png" in page and "heatmap.png" in page
    for png in ("iqm", "profiles", "heatmap"):
        blob = (board_dir / "leaderboard" / f"{png}.png").read_bytes()
        assert blob[:8] == b"\x89PNG\r\n\x1a\n" and len(blob) > 5000


def test_leaderboard_of_an_empty_or_missing_directory(tmp_path, tiny_data):
    board = render_leaderboard(tmp_path, data_dir=tiny_data)
    assert board.entries == [] and "No valid result files." in markdown(board)
    with pytest.raises(FileNotFoundError, match="results_dir"):
        render_leaderboard(tmp_path / "nope", data_dir=tiny_data)
