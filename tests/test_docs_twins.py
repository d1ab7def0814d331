"""Fast twins of the slow docs examples (issue 27): each page's examples make the same API calls and
commands here, in the default suite, on small data (the test's small demo, 96 px files, tiny bench
files, one epoch). The full examples still run as printed under `make test-slow` (tests/test_docs.py).

A page whose examples are all slow, or that gets a new slow block, must be listed in TWINS, so that
`make test` notices when a documented call stops working without waiting for the slow run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from docs_examples import REPO, documents, extract
from test_bench_support import write_tiny

from occmer.cli import cli

torch.set_num_threads(1)

# page -> the twin tests below that make its slow examples' calls (or, where a twin lives in another
# file, that test). Blocks a twin cannot run fast say so here.
TWINS = {
    "README.md": ["test_readme_first_run_twin", "test_bench_twin"],
    "bench.md": ["test_bench_twin", "tests/test_synthesize_ray.py (the --executor ray block)"],
    "databases.md": ["test_databases_twin"],
    "demo-database.md": ["test_demo_database_twin"],
    "features.md": ["test_features_twin"],
    "hdf5-format.md": ["test_hdf5_format_twin"],
    "landmarks.md": ["test_landmarks_twin"],
    "models.md": ["test_models_twin"],
    "occlude.md": ["tests/test_occlude.py::test_cli_occlude_and_one_line_errors and "
                   "test_occlude_raw_import_stores_everything_and_verifies (import, occlude, verify on stand-ins)"],
    "occluders.md": ["test_occluders_twin"],
    "spotting.md": ["tests/test_spotting_bench.py (bench --task spot and --task str on a 2-subject long demo) and "
                    "tests/test_spotting_long_files.py::test_synthesize_verify_spot_from_the_command_line "
                    "(synthesize --db demo-long, verify, spot --data, bench --task spot --data) and "
                    "tests/test_inspect_long.py (inspect LONG.h5, --html, --spots)"],
}


def run(*args: object) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, f"occmer {' '.join(map(str, args))}\n{result.output}"
    return result.output


def test_every_page_with_slow_examples_has_a_fast_twin():
    slow_pages = {doc.name for doc in documents() if any(e.slow and not e.skip for e in extract(doc))}
    assert slow_pages <= set(TWINS), f"add a fast twin for {sorted(slow_pages - set(TWINS))}"


def _example(page: str, containing: str) -> str:
    doc = REPO / page if page == "README.md" else REPO / "docs" / page
    return next(e.code for e in extract(doc) if containing in e.code)


@pytest.fixture()
def glasses(block_file, tmp_path) -> Path:
    """A small synthesized file standing in for the docs' glasses.h5 (the small demo, 96 px)."""
    return Path(shutil.copy(block_file, tmp_path / "glasses.h5"))


def test_readme_first_run_twin(glasses, small_demo_root, tmp_path):
    """README 'What a run looks like': verify, inspect, inspect --html, features, preview (file and database)."""
    run("verify", glasses)
    assert "occluder" in run("inspect", glasses)
    run("inspect", glasses, "--html", "--quiet", "--no-clean")  # the re-synthesis is tested in test_reports.py
    assert (tmp_path / "glasses_inspect.html").exists()
    run("features", glasses, "--flow", "dis", "--size", "16,24", "--no-progress")  # TV-L1 runs in the features twin
    run("preview", "--from", glasses, "--out", tmp_path / "glasses.png", "--quiet")
    run("preview", "--db", "demo", "--root", small_demo_root, "--mask", "glasses", "--n", "1", "--gif",
        "--out", tmp_path / "glasses.gif", "--quiet")
    assert (tmp_path / "glasses.png").stat().st_size and (tmp_path / "glasses.gif").stat().st_size


def test_bench_twin(tmp_path):
    """README and docs/bench.md: two runs of half the folds each, merged by `report` (the other bench lines,
    several conditions and --train-on/--test-on, run in tests/test_bench_runner.py and test_first_run.py)."""
    clean = write_tiny(tmp_path / "clean.h5")
    common = ("--epochs", "1", "--batch-size", "4", "--no-progress", "--no-html")
    for shard in ("1/2", "2/2"):
        run("bench", "ststnet", "--data", clean, "--folds", shard, "--out", tmp_path / f"runs/shard{shard[0]}", *common)
    run("report", tmp_path / "runs/shard1", tmp_path / "runs/shard2", "--out", tmp_path / "runs/merged", "--no-plots")
    assert (tmp_path / "runs/merged/table.csv").exists()


def test_databases_twin(small_demo_root):
    """docs/databases.md: `describe --list`, then the pre-flight check of a database folder."""
    assert "casme2" in run("describe", "--list")
    assert "problems" in run("describe", "--db", "demo", "--root", small_demo_root)


def test_demo_database_twin(tmp_path, monkeypatch):
    """docs/demo-database.md: `occmer demo-db` and the Python block (build, read the manifest), tiny."""
    run("demo-db", tmp_path / "tiny", "--subjects", "1", "--clips-per-subject", "2", "--frames", "12", "--size", "128",
        "--no-progress")
    from occmer.demo import read_manifest

    code = _example("demo-database.md", "read_manifest(root)")
    assert "build_demo_database(Path(\"my-demo\")" in code and "read_manifest(root)" in code  # the block's calls
    truth = read_manifest(tmp_path / "tiny")["clips"][0]
    assert truth


def test_features_twin(glasses, tmp_path, monkeypatch):
    """docs/features.md: the command lines and the Python block, as printed, on a small file."""
    run("features", glasses, "--flow", "dis", "--size", "32", "--diff", "--normalise", "maxabs", "--no-progress")
    run("features", glasses, "--flow", "tvl1", "--flow-param", "nscales=3", "--flow-param", "lambda=0.1",
        "--no-progress")
    listing = run("features", glasses, "--list")
    assert "flow_dis_32_diff_maxabs" in listing and "flow_tvl1_28_lambda0.1_nscales3" in listing
    monkeypatch.chdir(tmp_path)
    code = _example("features.md", "OccmerDataset(").replace('FlowSpec("dis", 112, diff=True)',
                                                             'FlowSpec("dis", 32, diff=True)')
    scope: dict = {}
    exec(code, scope)  # noqa: S102 - the documented example, its grid made small
    assert scope["fs"].data.shape[1:] == (3, 28, 28) and len(scope["ds"]) == scope["fs"].data.shape[0]
    exec(_example("features.md", "write_groundtruth_file("), {})  # noqa: S102 - as printed (two small clips)
    assert (tmp_path / "gt.h5").exists()


def test_hdf5_format_twin(tmp_path, monkeypatch):
    """docs/hdf5-format.md: the LOSO loop over /splits and /features, as printed, on a tiny file."""
    (tmp_path / "out").mkdir()
    write_tiny(tmp_path / "out" / "demo_glasses.h5")
    run("splits", tmp_path / "out" / "demo_glasses.h5")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(_example("hdf5-format.md", 'f["splits/loso"]'), scope)  # noqa: S102 - as printed
    assert len(scope["fold_names"]) == 4 and scope["x_train"].shape[1:] == (3, 28, 28)


def test_landmarks_twin(glasses, tmp_path, monkeypatch):
    """docs/landmarks.md: head motion of a stored clip, as printed, on the small file."""
    (tmp_path / "out").mkdir()
    shutil.copy(glasses, tmp_path / "out" / "demo_glasses.h5")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(_example("landmarks.md", "track_head_motion("), scope)  # noqa: S102 - as printed
    assert scope["motion"].shape == (len(scope["frames"]), 2, 3) and not scope["result"].lost.any()


def test_models_twin():
    """docs/models.md: build a model, run a batch, take the loss (the block as printed: one small batch)."""
    scope: dict = {}
    exec(_example("models.md", "model_loss("), scope)  # noqa: S102 - as printed
    assert scope["out"].logits.shape == (4, 5) and torch.isfinite(scope["loss"])


def test_occluders_twin(small_demo_root, block_file, tmp_path):
    """docs/occluders.md: block options, a random occluder sheet, a sheet from a file (the block file the
    suite synthesizes once stands in for `synthesize --mask block`, whose options are checked by parsing)."""
    from occmer.cli.synthesize import synthesize_command

    args = ["--db", "demo", "--mask", "block", "--coverage", "0.3", "--region", "eyes", "--fill", "noise"]
    assert synthesize_command.make_context("synthesize", list(args)).params["coverage"] == 0.3
    out = block_file
    run("preview", "--db", "demo", "--root", small_demo_root, "--mask", "random", "--choices", "surgical,n95,cloth",
        "--n", "2", "--out", tmp_path / "masks.png", "--quiet")
    run("preview", "--from", out, "--out", tmp_path / "block.png", "--quiet")
    with __import__("h5py").File(out, "r") as f:
        assert np.asarray(f["samples/occlusion_ratio"]).max() > 0
