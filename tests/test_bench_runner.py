"""End-to-end bench on tiny files: outputs, determinism, resume after a killed fold, shard merging."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from test_bench_support import write_tiny

import occmer.bench.jobs as jobs_module
from occmer.cli import cli

torch.set_num_threads(1)

BASE = ["--epochs", "1", "--batch-size", "4", "--no-progress"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bench_data")
    return {"clean": write_tiny(root / "clean.h5"), "surgical": write_tiny(root / "surgical.h5", occluded=True)}


def _bench(args: list[str]) -> object:
    result = CliRunner().invoke(cli, ["bench", *args], catch_exceptions=False)
    return result


def _fold_files(out: Path) -> list[Path]:
    return sorted((out / "folds").rglob("*.json"))


@pytest.fixture(scope="module")
def full_run(files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "run"
    result = _bench(["ststnet", "--data", str(files["clean"]), "--data", str(files["surgical"]), "--seeds", "2",
                     "--out", str(out), *BASE])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == f"results in {out}; report: {(out / 'report.html').resolve()}"
    return out


def test_end_to_end_writes_every_output(full_run, files):
    for name in ("config.json", "predictions.csv", "metrics.json", "table.md", "table.csv", "report.html",
                 "figures/confusion_ststnet.png", "figures/uf1_heatmap.svg", "figures/uf1_change_from_clean.pdf",
                 "figures/per_class_f1.png"):
        assert (full_run / name).exists(), name
    config = json.loads((full_run / "config.json").read_text())
    assert config["settings"]["protocol"] == "loso"
    assert [f["path"] for f in config["conditions"]["clean"]] == [str(files["clean"])]
    assert len(config["conditions"]["clean"][0]["sha256"]) == 64
    assert config["plan"]["ststnet|clean"]["folds"] == ["demo/s00", "demo/s01", "demo/s02", "demo/s03"]
    predictions = pd.read_csv(full_run / "predictions.csv")
    # 12 samples x 2 conditions x 2 seeds, each tested exactly once per (condition, seed).
    assert len(predictions) == 48
    assert predictions.groupby(["condition", "seed"])["sample_id"].nunique().eq(12).all()
    assert {"p_happiness", "p_surprise", "p_disgust"} <= set(predictions.columns)
    table = pd.read_csv(full_run / "table.csv")
    assert set(table["condition"]) == {"clean", "surgical"}
    assert table["complete"].all() and table["seeds"].eq(2).all()
    assert "| ststnet |" in (full_run / "table.md").read_text()


def test_same_command_gives_bit_identical_predictions(full_run, files, tmp_path):
    out = tmp_path / "again"
    result = _bench(["ststnet", "--data", str(files["clean"]), "--data", str(files["surgical"]), "--seeds", "2",
                     "--out", str(out), *BASE])
    assert result.exit_code == 0, result.output
    for a, b in zip(_fold_files(full_run), _fold_files(out), strict=True):
        first, second = json.loads(a.read_text()), json.loads(b.read_text())
        assert first["probabilities"] == second["probabilities"]
        assert first["pred"] == second["pred"]


def test_a_run_with_other_settings_is_refused(full_run, files):
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--data", str(files["clean"]), "--out", str(full_run),
                                      "--epochs", "2", "--no-progress"])
    assert result.exit_code == 2
    assert "different settings (train)" in result.output and "new --out" in result.output


def test_resume_after_a_killed_fold_retrains_only_missing_folds(full_run, files, tmp_path, monkeypatch):
    out = tmp_path / "killed"
    args = ["ststnet", "--data", str(files["clean"]), "--data", str(files["surgical"]), "--seeds", "2",
            "--out", str(out), *BASE, "--batch-folds", "off"]  # one fold at a time: train_fold is what dies
    real = jobs_module.train_fold
    calls = {"n": 0}

    def dies_on_third(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(jobs_module, "train_fold", dies_on_third)
    result = CliRunner().invoke(cli, ["bench", *args])
    assert result.exit_code == 130 and "rerun the same command" in result.output
    finished = _fold_files(out)
    assert len(finished) == 2
    stamps = {p: p.stat().st_mtime_ns for p in finished}

    calls["n"] = 100
    result = _bench(args)  # the same command continues the run
    assert result.exit_code == 0, result.output
    assert "2 already done" in result.output
    assert calls["n"] == 100 + 14  # 16 folds in the grid, 2 kept
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    pd.testing.assert_frame_equal(pd.read_csv(out / "table.csv"), pd.read_csv(full_run / "table.csv"))


def test_shards_merge_to_the_same_table_as_one_run(full_run, files, tmp_path):
    shards = []
    for i in (1, 2, 3):
        out = tmp_path / f"shard{i}"
        result = _bench(["ststnet", "--data", str(files["clean"]), "--data", str(files["surgical"]), "--seeds", "2",
                         "--folds", f"{i}/3", "--out", str(out), *BASE])
        assert result.exit_code == 0, result.output
        shards.append(out)
    assert sum(len(_fold_files(s)) for s in shards) == 16
    assert "partial" in (shards[0] / "table.md").read_text()
    assert not pd.read_csv(shards[0] / "table.csv")["complete"].any()
    merged = tmp_path / "merged"
    result = CliRunner().invoke(cli, ["report", *map(str, shards), "--out", str(merged), "--no-plots"])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(merged / "table.csv"), pd.read_csv(full_run / "table.csv"))
    assert json.loads((merged / "metrics.json").read_text())["cells"] == \
        json.loads((full_run / "metrics.json").read_text())["cells"]


def test_report_refuses_runs_with_other_settings(full_run, files, tmp_path):
    other = tmp_path / "other"
    result = _bench(["ststnet", "--data", str(files["clean"]), "--lr", "0.01", "--max-folds", "1",
                     "--out", str(other), *BASE])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["report", str(full_run), str(other), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "different settings" in result.output


def test_train_clean_test_occluded_with_region_model(files, tmp_path):
    out = tmp_path / "cross"
    result = _bench(["rrrn", "--data", str(files["clean"]), "--data", str(files["surgical"]), "--train-on", "clean",
                     "--test-on", "surgical", "--max-folds", "2", "--out", str(out), *BASE])
    assert result.exit_code == 0, result.output
    record = json.loads(_fold_files(out)[0].read_text())
    assert record["train_condition"] == "clean" and record["test_condition"] == "surgical"
    weights, covered = record["extras"]["region_weights"], record["extras"]["region_occlusion"]
    assert len(weights) == len(covered) == record["n_test"] == 3
    assert covered[0][-1] == pytest.approx(0.5, abs=0.1)  # the whole-face box: lower half covered
    assert "clean->surgical" in (out / "table.md").read_text()
    assert (out / "figures" / "attention_rrrn.png").exists()
    assert "Region attention" in (out / "report.html").read_text(encoding="utf-8")


def test_user_errors_are_one_line(files, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["bench", "nosuchmodel", "--data", str(files["clean"]), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "unknown model" in result.output
    result = runner.invoke(cli, ["bench", "ststnet", "--data", str(files["clean"]), "--protocol", "megc2018-hde",
                                 "--out", str(tmp_path / "y"), *BASE])
    assert result.exit_code == 2 and "one --data file per database" in result.output
    result = runner.invoke(cli, ["bench", "ststnet", "--data", str(files["clean"]), "--hparam", "nope=1",
                                 "--out", str(tmp_path / "z")])
    assert result.exit_code == 2 and "no model accepts" in result.output


@pytest.mark.slow
def test_no_data_uses_the_cached_demo_conditions(tmp_path, monkeypatch):
    """`occmer bench ststnet` with no --data builds the demo conditions (minutes: synthesis + flow)."""
    monkeypatch.setenv("OCCMER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    result = _bench(["ststnet", "--demo-masks", "none,surgical", "--demo-subjects", "3", "--demo-clips", "3",
                     "--max-folds", "2", "--out", str(out), *BASE])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "table.csv")
    assert list(table["condition"]) == ["clean", "surgical"]
    assert table["complete"].all()


def test_hde_on_two_database_files_of_one_condition_with_validation(tmp_path):
    casme2 = write_tiny(tmp_path / "casme2.h5", database="casme2", seed=1)
    samm = write_tiny(tmp_path / "samm.h5", database="samm", seed=2)
    out = tmp_path / "hde"
    result = _bench(["ststnet", "--protocol", "megc2018-hde", "--data", f"clean={casme2}", "--data", f"clean={samm}",
                     "--membership", "rules", "--val-subjects", "1", "--out", str(out), *BASE])
    assert result.exit_code == 0, result.output
    records = [json.loads(p.read_text()) for p in _fold_files(out)]
    assert sorted(r["fold"] for r in records) == ["casme2->samm", "samm->casme2"]
    for record in records:
        assert record["n_train"] == 9 and record["n_val"] == 3 and record["n_test"] == 12  # 1 of 4 subjects held out
        assert set(record["database"]) == {record["fold"].split("->")[1]}
        assert record["classes"] == ["I", "II", "IV"]
    table = pd.read_csv(out / "table.csv")
    assert sorted(table["database"]) == ["all", "casme2", "samm"]
    assert "## casme2 only" in (out / "table.md").read_text()


def test_report_html_is_one_self_contained_page(full_run):
    from html_checks import check_self_contained, parse_page

    page = parse_page((full_run / "report.html").read_text(encoding="utf-8"))
    check_self_contained(page)
    assert {"table", "databases", "selection", "confusion", "per-class", "attention", "settings",
            "command"} <= set(page.section_ids)
    # UF1 heatmap, change from clean, the learning curve (honest vs test-oracle), one confusion grid, per-class F1
    # (no attention: ststnet has no regions).
    assert len(page.images) == 5
    alts = [i["alt"] for i in page.images]
    assert alts[0] == "UF1 by model and condition" and alts[1] == "Change from clean"
    assert alts[2] == "ststnet: UF1 over epochs"
    # The scores table (1 model x 2 conditions), honest vs test-oracle (one row per condition), the data files with
    # checksums, the environment.
    scores, selection, files = page.tables[0], page.tables[1], page.tables[2]
    assert scores.header_cells == 3 and scores.body_rows == 1
    assert selection.header_cells == 6 and selection.body_rows == 2
    assert files.body_rows == 2
    text = (full_run / "report.html").read_text(encoding="utf-8")
    config = json.loads((full_run / "config.json").read_text())
    assert config["conditions"]["clean"][0]["sha256"] in text
    for figure in ("uf1_heatmap", "uf1_change_from_clean", "confusion_ststnet", "per_class_f1"):
        for fmt in ("png", "svg", "pdf"):
            assert (full_run / "figures" / f"{figure}.{fmt}").stat().st_size > 1000


def test_figures_read_on_a_page_for_a_large_grid():
    """A 9 models x 5 conditions grid: a heatmap of at most 10 x 7 inches, not a 3437 px strip."""
    from occmer.bench.metrics import Scores
    from occmer.bench.plots import PNG_DPI, change_heatmap, metric_heatmap
    from occmer.bench.report import CellSummary

    summaries = []
    for m in range(9):
        for c in ["clean", "glasses", "sunglasses", "surgical", "block"]:
            per_seed = {s: Scores(0.3 + 0.05 * m + 0.01 * s, 0.5, 0.5, 0.5, 10) for s in (0, 1)}
            summaries.append(CellSummary(f"model{m}", c, c, c, ["a", "b"], 4, {0: 4, 1: 4}, per_seed))
    for fig in (metric_heatmap(summaries), change_heatmap(summaries)):
        width, height = fig.get_size_inches()
        assert width <= 10 and height <= 7
        assert width * PNG_DPI <= 1100
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert len(texts) in (45, 36)
    assert any("±" in t for t in [t.get_text() for t in metric_heatmap(summaries).axes[0].texts])


def test_htnet_gets_the_five_points_of_the_stored_onset_landmarks(files, tmp_path, monkeypatch):
    """The bench passes HTNet five_points of the landmarks its region boxes come from, and records their source."""
    import h5py
    import numpy as np

    from occmer.bench.conditions import LANDMARKS_ONSET, load_condition
    from occmer.models.htnet import HTNet
    from occmer.models.landmark_blocks import five_points

    path = files["clean"]
    data = load_condition("clean", [path], "emotion", "flow_tvl1_28", True, True)
    with h5py.File(path, "r") as f:  # onset 1 is the first stored frame of every tiny clip
        stored = {sid: f["clips"][sid]["landmarks"][0] for sid in data.table["sample_id"]}
    expected = np.stack([five_points(stored[sid], (64, 64), 28) for sid in data.table["sample_id"]])
    assert data.points.dtype == np.float32 and data.points.shape == (len(data.table), 5, 2)
    np.testing.assert_array_equal(data.points, expected)
    assert data.landmark_source == LANDMARKS_ONSET

    seen: list[np.ndarray] = []
    block_points = HTNet.block_points
    monkeypatch.setattr(HTNet, "block_points",
                        lambda self, batch, x: seen.append(batch["points"].numpy().copy()) or block_points(self, batch, x))
    out = tmp_path / "htnet"
    result = _bench(["htnet", "--data", str(path), "--hparam", "htnet.dim=8", "--max-folds", "1", "--out", str(out),
                     *BASE])
    assert result.exit_code == 0, result.output
    record = json.loads(_fold_files(out)[0].read_text())
    assert record["points"] == {"train": LANDMARKS_ONSET, "test": LANDMARKS_ONSET, "grid": 28}
    rows = {tuple(p.ravel()) for p in expected}
    passed = np.concatenate(seen)
    assert len(passed) and all(tuple(p.ravel()) in rows for p in passed)
    test_rows = data.table.index[data.table["sample_id"].isin(record["sample_id"])]
    assert any(np.array_equal(p, expected[test_rows[0]]) for p in passed)  # the test subject's rows reach it too
