"""The leaderboard refuses or flags what a checksum cannot catch, never lets one bad file stop
it, and with ``--verify`` re-runs jobs from the checkpoints: on a copy of the real tiny run."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from tinybench import tiny_config

import metail_envs
from metail_envs.benchmark import ProtocolConfig, load_leaderboard, render_leaderboard
from metail_envs.benchmark import results as R
from metail_envs.benchmark.leaderboard import NOT_VERIFIED, VERIFIED_DIFFERS, markdown
from metail_envs.benchmark.protocol import job_seed
from metail_envs.benchmark.runner import resolve_tasks
from metail_envs.cli import main as cli_main

RES = 50  # bootstrap resamples: enough to render, fast


def reseal(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["checksum"] = R.checksum(doc)
    return doc


def write(path: Path, doc: dict, seal: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(reseal(doc) if seal else doc))


def scale_returns(doc: dict, factor: float) -> None:
    """Multiply every return, with consistent means and scores: a forgery the checksum and the
    consistency checks cannot see."""
    edit_returns(doc, lambda returns, span: [r * factor for r in returns])


def raise_returns(doc: dict, points: float) -> None:
    """Raise every return by ``points`` of (expert - random), means and scores consistent."""
    edit_returns(doc, lambda returns, span: [r + points / 100.0 * span for r in returns])


def edit_returns(doc: dict, edit) -> None:
    """Replace every job's returns by ``edit(returns, expert - random)``, means and scores
    recomputed."""
    for j in doc["jobs"]:
        if j["status"] != "ok":
            continue
        ref = doc["references"][j["task"]]
        j["returns"] = edit(j["returns"], ref["expert_mean"] - ref["random_mean"])
        j["mean_return"] = sum(j["returns"]) / len(j["returns"])
        span = ref["expert_mean"] - ref["random_mean"]
        j["score"] = 100.0 * (j["mean_return"] - ref["random_mean"]) / span


def reseed(doc: dict, seed: int) -> None:
    """Claim another seed, job seeds recomputed (the forger read the protocol)."""
    doc["seed"] = seed
    for j in doc["jobs"]:
        j["job_seed"] = job_seed(seed, j["task"], j["k"], j["track"])


@pytest.fixture
def board_dir(tiny_run, tmp_path) -> Path:
    """A copy of the tiny run's result files (and checkpoints)."""
    src, _ = tiny_run
    shutil.copytree(src / "results", tmp_path / "results")
    return tmp_path


def read(board_dir: Path, agent: str, seed: int = 0) -> dict:
    return json.loads((board_dir / "results" / agent / f"seed_{seed:03d}.json").read_text())


def left_out(board) -> dict[str, str]:
    """Reasons by ``agent-dir/file``."""
    return {
        f"{Path(x.path).parent.name}/{Path(x.path).name}": " ".join(x.reasons)
        for x in board.excluded
    }


def test_a_nan_and_fewer_tasks_are_refused_by_name_and_the_rest_renders(
    board_dir, tiny_data, tmp_path
):
    mean = read(board_dir, "mean")
    bad = board_dir / "results" / "bad"
    nan = copy.deepcopy(mean)
    nan["jobs"][0]["returns"][1] = float("nan")
    bad.mkdir()
    (bad / "nan.json").write_text(json.dumps(nan))  # NaN: not JSON, and no checksum can cover it
    fewer = copy.deepcopy(mean)  # ood dropped, resealed, "complete": the file's own list agrees
    fewer["tasks"] = {"test": mean["tasks"]["test"], "ood": []}
    fewer["jobs"] = [j for j in mean["jobs"] if j["split"] == "test"]
    write(bad / "fewer.json", fewer)
    (bad / "truncated.json").write_text(json.dumps(mean)[:-300])
    wrong = copy.deepcopy(mean)
    wrong["jobs"][1]["adapt_time_s"] = "fast"
    write(bad / "wrong-type.json", wrong)

    board = render_leaderboard(board_dir, tmp_path / "out", data_dir=tiny_data, resamples=RES)
    out = left_out(board)
    assert set(out) == {f"bad/{n}.json" for n in ("nan", "fewer", "truncated", "wrong-type")}
    assert "NaN is not a JSON number" in out["bad/nan.json"]
    assert "tasks (1 test, 0 ood) are not the (1 test, 1 ood)" in out["bad/fewer.json"]
    assert "not readable as JSON" in out["bad/truncated.json"]
    assert "adapt_time_s must be a number >= 0, got 'fast'" in out["bad/wrong-type.json"]
    assert {e.name for e in board.entries} == {
        "mean", "expert", "random", "metail_test_agents:RaisingAgent"
    }  # fmt: skip
    assert all(e.seeds == [0, 1] for e in board.entries)
    md = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "nan.json" in md and "fewer.json" in md and "| expert (reference) ? | 2 (< 5) |" in md


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list) and node:
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    if path:
        yield path


def _set(doc, path, value):
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


WRONG = [None, "x", -1, 2.5, True, [], {}, [None], {"x": None}]


def _harmless(path: tuple, value, original) -> bool:
    """A change the leaderboard may accept: it scores nothing differently."""
    return (
        path[0] in ("environment", "timing")  # recorded, never scored
        or path[:2] == ("agent", "kwargs")  # the agent's own record of itself
        or path in {("agent", "name"), ("agent", "spec"), ("agent", "target")}
        or (path == ("agent", "privileged") and value is True)  # then shown as a reference
        or (path[0] == "config" and path[1].endswith("_cap_s"))  # caps are not settings
        or (path[-1] in ("adapt_time_s", "eval_time_s", "time_s") and value in (2.5, None))
        or (path[-1] in ("adapt_stats", "error") and value in (None, {}))
        or (path[-1] == "agent_config" and value in (None, "x"))  # one config is one config
        or json.dumps(value) == json.dumps(original)
    )


def test_no_wrong_type_anywhere_stops_the_leaderboard(board_dir, tiny_data):
    """Every field of a real file, set to each of several wrong values and resealed: the
    leaderboard never raises, and every change that would score differently is left out."""
    mean = read(board_dir, "mean")
    bad = board_dir / "results" / "mutants"
    written: dict[str, tuple] = {}
    for i, path in enumerate(p for p in _leaves(mean) if p != ("checksum",)):
        original = mean
        for key in path:
            original = original[key]
        for j, value in enumerate(WRONG):
            doc = copy.deepcopy(mean)
            doc["agent"]["name"] = f"m{i}-{j}"  # never a conflict with another file
            _set(doc, path, value)
            write(bad / f"m{i}-{j}.json", doc)
            written[f"mutants/m{i}-{j}.json"] = (path, value, original)
    board = load_leaderboard(board_dir, data_dir=tiny_data, resamples=10)
    markdown(board)
    out = left_out(board)
    shown = {e.name for e in board.entries}
    accepted = [written[n] for n in written if n not in out]
    assert [a for a in accepted if not _harmless(*a)] == []
    for name, (path, _, _) in written.items():
        if name not in out and path != ("agent", "name"):
            assert name[len("mutants/") : -len(".json")] in shown
    assert len(out) > 0.8 * len(written)


def test_a_file_whose_jobs_ran_under_two_agent_configs_is_refused(board_dir, tiny_data):
    """A default changed between a run and its --resume: the jobs' config digests differ."""
    doc = read(board_dir, "mean")
    for i, j in enumerate(doc["jobs"]):
        j["agent_config"] = "sha256:" + ("a" if i % 2 else "b") * 16
    write(board_dir / "results" / "mean" / "seed_000.json", doc)
    one = read(board_dir, "mean", 1)
    for j in one["jobs"]:
        j["agent_config"] = "sha256:" + "c" * 16
    write(board_dir / "results" / "mean" / "seed_001.json", one)
    out = left_out(load_leaderboard(board_dir, data_dir=tiny_data, resamples=RES))
    assert "ran under 2 agent configs" in out["mean/seed_000.json"]
    assert "mean/seed_001.json" not in out


def test_forgeries_are_refused_or_flagged(board_dir, tiny_data):
    results = board_dir / "results"
    for seed in (0, 1):  # random's returns inflated, resealed: consistent, and implausible
        doc = read(board_dir, "random", seed)  # (x1.6 on the shipped data; the tiny data's
        scale_returns(doc, 4.0)  # random agent sits far below its reference)
        write(results / "random" / f"seed_{seed:03d}.json", doc)
    expert = read(board_dir, "expert")
    renamed = copy.deepcopy(expert)  # the expert's file as a new agent, not privileged
    renamed["agent"].update(name="superagent", privileged=False)
    write(results / "superagent" / "seed_000.json", renamed)
    disguised = copy.deepcopy(expert)  # ... and as an agent of its own code
    disguised["agent"] = {
        "name": "disguised", "spec": "mine:Super", "target": "mine:Super", "kwargs": {},
        "privileged": False,
    }  # fmt: skip
    write(results / "disguised" / "seed_000.json", disguised)
    mean = read(board_dir, "mean")
    copied = copy.deepcopy(mean)  # seed 0 copied as seed 9, only the seed changed
    copied["seed"] = 9
    write(results / "mean" / "seed_009.json", copied)
    recomputed = copy.deepcopy(mean)  # seed 0 copied as seed 8, job seeds recomputed
    reseed(recomputed, 8)
    write(results / "mean" / "seed_008.json", recomputed)
    impostor = read(board_dir, "mean", 1)  # an agent under a reference's name
    impostor["agent"]["name"] = "expert"
    reseed(impostor, 6)
    write(results / "expert" / "seed_006.json", impostor)

    board = load_leaderboard(board_dir, data_dir=tiny_data, resamples=RES)
    out = left_out(board)
    by_name = {e.name: e for e in board.entries}
    assert set(out) == {"superagent/seed_000.json", "mean/seed_009.json", "expert/seed_006.json"}
    assert (
        "'superagent' runs the 'expert' reference agent (expert), which is privileged"
        in (out["superagent/seed_000.json"])
    )
    assert "job_seed" in out["mean/seed_009.json"] and "copied?" in out["mean/seed_009.json"]
    assert (
        "agent name 'expert' is the 'expert' reference agent's, but the file runs"
        in (out["expert/seed_006.json"])
    )
    assert by_name["mean"].seeds == [0, 1, 8]
    assert any("seed 8 has the very returns of 'mean' seed 0" in f for f in by_name["mean"].flags)
    assert any("'expert' seed 0" in f for f in by_name["disguised"].flags)
    assert not by_name["expert"].flags  # a privileged reference is seed-independent by design
    assert any("above the expert by more than" in f for f in by_name["random"].flags)
    md = markdown(board)
    assert "random (reference) (FLAGGED)" in md and "## Flags" in md


def test_honest_reference_files_are_not_flagged(board_dir, tiny_data):
    board = load_leaderboard(board_dir, data_dir=tiny_data, resamples=RES)
    by_name = {e.name: e for e in board.entries}
    assert not by_name["random"].flags and not by_name["expert"].flags
    assert board.excluded == []


def copy_run(tiny_run, tmp_path) -> Path:
    """A board of the tiny run's mean agent (files and checkpoints) and expert (files only)."""
    src, _ = tiny_run
    for part in ("results", "checkpoints"):
        shutil.copytree(src / part / "mean", tmp_path / part / "mean")
    shutil.copytree(src / "results" / "expert", tmp_path / "results" / "expert")
    return tmp_path


def another_machine(doc: dict) -> None:
    """The file as another MuJoCo would have made it: its recorded version differs."""
    doc["environment"]["versions"]["mujoco"] = "0.0.1"


def test_verify_catches_a_last_bit_edit_on_the_files_own_versions(tiny_run, tiny_data, tmp_path):
    board_dir = copy_run(tiny_run, tmp_path)
    doc = read(board_dir, "mean", 1)
    scale_returns(doc, 1.0 + 1e-12)  # a last-bit edit, resealed
    write(board_dir / "results" / "mean" / "seed_001.json", doc)

    plain = load_leaderboard(board_dir, data_dir=tiny_data, resamples=RES)
    assert plain.excluded == [] and plain.checks == []  # validation alone cannot see it
    assert {e.verdict for e in plain.entries} == {NOT_VERIFIED}
    assert "| mean (FLAGGED) ? |" in markdown(plain)  # every entry marked, verified or not

    board = load_leaderboard(board_dir, data_dir=tiny_data, resamples=RES, verify=4, workers=2)
    outcomes = {(c.path.parent.name, c.path.name, c.outcome) for c in board.checks}
    assert outcomes == {  # every job of every file: 4 each
        ("mean", "seed_000.json", "identical"),
        ("mean", "seed_001.json", "differs"),
        ("expert", "seed_000.json", "unverifiable"),
        ("expert", "seed_001.json", "unverifiable"),
    }
    assert len(board.checks) == 16
    reason = left_out(board)["mean/seed_001.json"]
    assert len(board.excluded) == 1 and "--verify: mean: job" in reason
    assert "other returns (episode 0" in reason and "made with this machine's versions" in reason
    by_name = {e.name: e for e in board.entries}
    assert by_name["mean"].seeds == [0] and by_name["mean"].verdict == VERIFIED_DIFFERS
    assert by_name["expert"].flags == ["--verify could not re-run 8 of its jobs (see Verification)"]
    assert by_name["expert"].verdict == NOT_VERIFIED  # no checkpoint: nothing compared
    md = markdown(board)
    assert "| mean (FLAGGED) ✗ | 1 (< 5) |" in md
    assert "16 jobs re-run from the files' checkpoints: 4 bit-identical, 4 not bit-identical" in md
    assert "no checkpoint at" in md


@pytest.mark.parametrize("points", [30.0, 5.0])
def test_verify_catches_a_forgery_made_to_look_like_another_machines(
    points, tiny_run, tiny_data, tmp_path
):
    board_dir = copy_run(tiny_run, tmp_path)
    for seed in (0, 1):
        doc = read(board_dir, "mean", seed)
        raise_returns(doc, points)
        another_machine(doc)
        write(board_dir / "results" / "mean" / f"seed_{seed:03d}.json", doc)
    board = load_leaderboard(board_dir, data_dir=tiny_data, resamples=RES, verify=1, workers=2)
    verdict = board.verdicts["mean"]
    assert verdict.verdict == "differs" and verdict.shift == pytest.approx(points)
    assert sorted(left_out(board)) == ["mean/seed_000.json", "mean/seed_001.json"]
    assert (
        f"files claim {points:+.1f} points over their re-runs"
        in left_out(board)["mean/seed_000.json"]
    )
    assert "mean" not in {e.name for e in board.entries}


def test_verify_passes_chaotic_episodes_from_another_machine(tiny_run, tiny_data, tmp_path):
    """A version change that moves episodes far, both ways, is consistent."""
    board_dir = copy_run(tiny_run, tmp_path)
    factors = [1.5, 0.6, 1.0]  # of each job's 3 episodes, one fell early, one went on further
    for seed in (0, 1):
        doc = read(board_dir, "mean", seed)
        edit_returns(doc, lambda rs, span: [r * f for r, f in zip(rs, factors, strict=True)])
        another_machine(doc)
        write(board_dir / "results" / "mean" / f"seed_{seed:03d}.json", doc)
    board = load_leaderboard(board_dir, data_dir=tiny_data, resamples=RES, verify=2, workers=2)
    assert board.verdicts["mean"].verdict == "consistent" and board.excluded == []
    [mean] = [e for e in board.entries if e.name == "mean"]
    assert mean.verdict == "verified consistent" and mean.seeds == [0, 1]
    assert "| mean (FLAGGED) ≈ |" in markdown(board)


def test_verify_from_the_command_line(tiny_run, tiny_data, tmp_path, capsys):
    board_dir = copy_run(tiny_run, tmp_path)
    assert cli_main(["leaderboard", str(board_dir), "--data-dir", str(tiny_data),
                     "--verify", "--workers", "1"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "8 jobs re-run from the files' checkpoints: 4 bit-identical, 4 unverifiable" in printed
    assert "mean: identical (4 jobs)" in printed and "| mean (FLAGGED) ✓ |" in printed


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"verify": -1}, "verify=-1 is invalid; accepted: an integer >= 0"),
        ({"verify": 2.0}, "verify=2.0 is invalid"),
        ({"verify_seed": True}, "verify_seed=True is invalid"),
        ({"workers": 0}, "workers=0 is invalid"),
    ],
)
def test_bad_verify_arguments_are_refused(kw, message, tmp_path, tiny_data):
    with pytest.raises(ValueError, match=message):
        load_leaderboard(tmp_path, data_dir=tiny_data, **kw)


def test_expected_tasks_come_from_the_protocol_not_the_file():
    suite = metail_envs.load_suite("hopper-v1")
    for config in (tiny_config(), ProtocolConfig(), ProtocolConfig(splits=("train", "nominal"))):
        assert R.protocol_tasks(config) == resolve_tasks(suite, config)[0]


def test_a_privileged_agent_may_repeat_itself_across_seeds_but_not_copy_another(board_dir):
    """The demonstrator (privileged, deterministic) gives one set of returns under every seed:
    not flagged; a privileged file with the expert's returns under another name is."""
    from pathlib import Path

    from metail_envs.benchmark.plausibility import duplicate_flags

    expert = read(board_dir, "expert")
    seeds = []
    for seed in (0, 1):
        d = copy.deepcopy(expert)
        d["seed"] = seed
        d["agent"] = {**d["agent"], "name": "demo", "spec": "demo", "target": "m:Demo"}
        seeds.append((Path(f"demo/seed_{seed:03d}.json"), d))
    assert duplicate_flags(seeds) == {}
    flags = duplicate_flags([*seeds, (Path("expert/seed_000.json"), expert)])
    assert set(flags) == {"demo"} and "'expert' seed 0" in flags["demo"][0]
