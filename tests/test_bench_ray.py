"""`occmer bench --executor ray`: the same fold files and table as the local executor, retries, resume.

A local Ray (2 CPUs, a small object store) is started once for the module; the tests skip when
the optional Ray extra is not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from test_bench_support import write_tiny

from occmer.cli import cli

ray = pytest.importorskip("ray")
from ray_support import local_ray_session, run_killing_one_task  # noqa: E402 - needs Ray

torch.set_num_threads(1)  # the Ray tasks declare 1 CPU and train with 1 thread: the same arithmetic
# --batch-folds off: the local executor trains one fold at a time, bit-identical to the Ray tasks
BASE = ["ststnet", "--batch-size", "4", "--no-progress", "--seeds", "2", "--batch-folds", "off"]


@pytest.fixture(scope="module")
def local_ray():
    yield from local_ray_session()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("ray_data")
    clean = write_tiny(root / "clean.h5")
    mask = write_tiny(root / "mask.h5", occluded=True)
    return ["--data", str(clean), "--data", str(mask)]


def _bench(args: list[str]):
    return CliRunner().invoke(cli, ["bench", *args], catch_exceptions=False)


def _folds(out: Path) -> dict[str, dict]:
    return {str(p.relative_to(out)): json.loads(p.read_text()) for p in sorted((out / "folds").rglob("*.json"))}


def _same_results(a: Path, b: Path) -> None:
    first, second = _folds(a), _folds(b)
    assert first.keys() == second.keys() and first
    for key in first:
        for field in ("probabilities", "pred", "sample_id", "fold_seed"):
            assert first[key][field] == second[key][field], (key, field)
    assert (a / "table.csv").read_text() == (b / "table.csv").read_text()


@pytest.fixture(scope="module")
def local_run(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "run"
    result = _bench([*BASE, *data, "--epochs", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_ray_gives_the_local_table_and_a_rerun_skips_finished_folds(local_ray, data, local_run, tmp_path):
    out = tmp_path / "ray"
    result = _bench([*BASE, *data, "--epochs", "2", "--out", str(out), "--executor", "ray"])
    assert result.exit_code == 0, result.output
    _same_results(local_run, out)
    config = json.loads((out / "config.json").read_text())
    assert config["executor"]["name"] == "ray" and "Ray workers" in config["device"]
    again = _bench([*BASE, *data, "--epochs", "2", "--out", str(out), "--executor", "ray"])
    assert again.exit_code == 0, again.output
    assert "16 already done" in again.output
    _same_results(local_run, out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the Ray worker through /proc")
def test_a_killed_fold_task_is_retried_and_the_table_is_unchanged(local_ray, data, tmp_path):
    args = ["ststnet", "--batch-size", "4", "--no-progress", data[0], data[1], "--epochs", "60", "--max-folds", "2",
            "--batch-folds", "off"]
    reference = tmp_path / "local"
    assert _bench([*args, "--out", str(reference)]).exit_code == 0
    out = tmp_path / "ray"
    killed, result = run_killing_one_task(
        lambda: _bench([*args, "--out", str(out), "--executor", "ray"]), "_ray_fold_task")
    assert killed is not None, "no fold task was seen running"
    assert result.exit_code == 0, result.output
    _same_results(reference, out)


def test_executor_options_are_checked():
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--ray-address", "auto", "--no-progress"])
    assert result.exit_code == 2
    assert "--executor ray" in result.output


def test_the_local_executor_does_not_import_ray():
    code = "import sys, occmer.cli, occmer.bench.runner; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
