"""`occmer synthesize --executor ray`: the same file as the local executor, retries, resume, errors.

A local Ray (2 CPUs, a small object store) is started once for the module, as in
test_bench_ray.py; the tests skip when the optional Ray extra is not installed. The database is
a 4-clip demo synthesized at 64 px, so that each run costs seconds.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from occmer.cli import cli
from occmer.errors import OccmerError
from occmer.store.writer import parts_dir

ray = pytest.importorskip("ray")
from ray_support import local_ray_session, run_killing_one_task  # noqa: E402 - needs Ray

TINY_DEMO = {"subjects": 2, "clips_per_subject": 2, "frames": 12, "size": 160}
VOLATILE_ATTRS = {"command", "created_utc"}  # the command line and the time differ between any two runs


@pytest.fixture(scope="module")
def local_ray():
    yield from local_ray_session()


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    from occmer.demo import build_demo_database

    return build_demo_database(tmp_path_factory.mktemp("tiny-demo") / "db", seed=0, **TINY_DEMO)


def _args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["synthesize", "--db", "demo", "--root", str(root), "--mask", "glasses", "--size", "64", "--seed", "3",
            "--out", str(out), "--no-progress", *extra]


def _synthesize(root: Path, out: Path, *extra: str):
    return CliRunner().invoke(cli, _args(root, out, *extra))


@pytest.fixture(scope="module")
def local_file(tiny_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "glasses.h5"
    result = _synthesize(tiny_root, out)
    assert result.exit_code == 0, result.output
    return out


def _contents(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every dataset of the file (/clips, /samples, /splits) and the root attributes that a run decides."""
    datasets: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: datasets.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
        attrs = {k: str(v) for k, v in f.attrs.items() if k not in VOLATILE_ATTRS}
        attrs |= {f"{sid}/placement": str(f["clips"][sid].attrs["placement"]) for sid in f["clips"]}
    return datasets, attrs


def _assert_same_file(a: Path, b: Path) -> None:
    (first, first_attrs), (second, second_attrs) = _contents(a), _contents(b)
    assert first.keys() == second.keys()
    assert any(k.startswith("clips/") for k in first) and any(k.startswith("samples/") for k in first)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    assert first_attrs == second_attrs


def test_ray_gives_the_local_file(local_ray, tiny_root, local_file, tmp_path):
    out = tmp_path / "glasses.h5"
    result = _synthesize(tiny_root, out, "--executor", "ray")
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "4 clips" in result.output
    assert not parts_dir(out).exists()  # assembled by the driver, shards removed as locally
    _assert_same_file(local_file, out)


def test_resume_on_ray_skips_the_finished_shards(local_ray, tiny_root, local_file, tmp_path, monkeypatch):
    """A local run stopped by an error after two clips, resumed on Ray: only the other two are processed."""
    from occmer import pipeline
    from occmer.databases.resolve import resolve_databases, scan_all
    from occmer.synthesis import ray_runner

    clips = scan_all(resolve_databases("demo", (str(tiny_root),))).clips
    real_process = pipeline.ClipProcessor.process

    def fail_on_third(self, clip):
        if clip.sample_id == clips[2].sample_id:
            raise OccmerError(f"{clip.sample_id}: stopped by the test")
        return real_process(self, clip)

    out = tmp_path / "glasses.h5"
    with monkeypatch.context() as patch:
        patch.setattr(pipeline.ClipProcessor, "process", fail_on_third)
        stopped = _synthesize(tiny_root, out)  # local, in this process: the patch applies
    assert stopped.exit_code == 2 and "stopped by the test" in stopped.output and "--resume" in stopped.output
    shards = sorted(p.name for p in (parts_dir(out) / "clips").glob("*.h5"))
    assert shards == sorted(f"{c.sample_id}.h5" for c in clips[:2])
    sent = []  # the clips given to Ray tasks
    real_run_ray = ray_runner.run_ray

    def run_ray(run, todo, on_done, executor):
        sent.extend(c.sample_id for c in todo)
        return real_run_ray(run, todo, on_done, executor)

    monkeypatch.setattr(ray_runner, "run_ray", run_ray)
    resumed = _synthesize(tiny_root, out, "--executor", "ray", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "2 clips reused" in resumed.output
    assert sorted(sent) == sorted(c.sample_id for c in clips[2:])
    _assert_same_file(local_file, out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the Ray worker through /proc")
def test_a_killed_clip_task_is_retried_and_the_file_is_unchanged(local_ray, tiny_root, local_file, tmp_path):
    out = tmp_path / "glasses.h5"
    killed, result = run_killing_one_task(lambda: _synthesize(tiny_root, out, "--executor", "ray"), "_ray_clip_task")
    assert killed is not None, "no clip task was seen running"
    assert result.exit_code == 0, result.output
    _assert_same_file(local_file, out)


def test_an_error_in_a_clip_reads_as_in_the_local_run(local_ray, tiny_root, tmp_path):
    """--on-error stop: the same message naming the sample and frame; skip: the same clip left out."""
    import cv2

    from occmer.databases.resolve import resolve_databases, scan_all

    root = tmp_path / "db"
    shutil.copytree(tiny_root, root)
    victim = scan_all(resolve_databases("demo", (str(root),))).clips[1]
    for _, path in victim.frames:  # readable frames without a face: the pre-flight check passes, the clip fails
        cv2.imwrite(str(path), np.full((TINY_DEMO["size"], TINY_DEMO["size"], 3), 128, np.uint8))
    messages = {}
    for executor in ("local", "ray"):
        out = tmp_path / executor / "x.h5"
        result = _synthesize(root, out, "--executor", executor)
        assert result.exit_code == 2, result.output
        messages[executor] = result.output.replace(str(out), "OUT")
    assert messages["ray"] == messages["local"]
    assert f"{victim.sample_id}: no face found on onset frame {victim.onset}" in messages["ray"]
    assert "--resume" in messages["ray"]
    skipped = tmp_path / "skip.h5"
    result = _synthesize(root, skipped, "--executor", "ray", "--on-error", "skip")
    assert result.exit_code == 0 and "3 clips" in result.output and "1 clips skipped" in result.output, result.output
    with h5py.File(skipped, "r") as f:
        assert victim.sample_id in f.attrs["skipped"] and victim.sample_id not in f["clips"]


def test_a_node_that_does_not_see_the_output_folder_refuses_the_clip(tmp_path, tiny_root):
    """--out on a disk only the driver sees: the task stops at once instead of writing a shard nobody assembles."""
    from occmer.databases.resolve import resolve_databases, scan_all
    from occmer.errors import StoreError
    from occmer.synthesis.ray_runner import check_run_visible

    clip = scan_all(resolve_databases("demo", (str(tiny_root),))).clips[0]
    with pytest.raises(StoreError, match=f"{clip.sample_id}: the Ray node .* does not see .*run.json.*every node"):
        check_run_visible(tmp_path / "x.h5", clip)
    assert not parts_dir(tmp_path / "x.h5").exists()


def test_executor_options_are_checked(tiny_root, tmp_path):
    result = _synthesize(tiny_root, tmp_path / "x.h5", "--ray-address", "auto")
    assert result.exit_code == 2 and "--executor ray" in result.output
    assert not (tmp_path / "x.h5").exists()


def test_without_ray_installed_the_error_is_one_line(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as it would without the extra
    result = _synthesize(tiny_root, tmp_path / "x.h5", "--executor", "ray")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --executor ray needs Ray: install it with `pip install 'occmer[ray]'` (ray==2.60.0)"
    ), result.output
    assert not parts_dir(tmp_path / "x.h5").exists()  # refused before any work


def test_the_local_executor_does_not_import_ray():
    code = ("import sys, occmer.cli, occmer.cli.synthesize, occmer.pipeline; "
            "assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
