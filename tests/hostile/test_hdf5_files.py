"""Hostile and malformed occmer files: every reader refuses cleanly, names the dataset or sample,
never shows a traceback and never lets another file's bytes through (issue 11)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from malformed_h5 import (
    CLIP,
    DEFECTS,
    FEATURE,
    FEATURES,
    IDS,
    OPEN,
    SECRET,
    Malformed,
    copy_of,
    features_only_file,
    valid_file,
)

from occmer.cli import cli
from occmer.data import OccmerDataset, read_index
from occmer.errors import OccmerError

NAMES = sorted(DEFECTS)


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Malformed]:
    out = {}
    for name in NAMES:
        directory = tmp_path_factory.mktemp(name)
        out[name] = DEFECTS[name](directory)
    return out


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def assert_clean(result, case: Malformed | None = None) -> None:
    """No traceback, no secret, and no exception other than a clean exit."""
    text = result.output + (result.stderr or "")
    assert "Traceback" not in text, text
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    if case is not None and case.secret:
        assert case.secret[:12].decode() not in text


def assert_refused(result, case: Malformed) -> None:
    """Exit 2 and exactly one error line naming the dataset or sample."""
    assert_clean(result, case)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    assert case.names in lines[0], lines[0]


def _no_secret(values, case: Malformed) -> None:
    if not case.secret:
        return
    for value in values:
        data = np.ascontiguousarray(value.numpy() if hasattr(value, "numpy") else np.asarray(value)).tobytes()
        assert case.secret not in data


# ---------------------------------------------------------------- the probes are real


def test_the_hostile_files_really_point_outside(cases):
    """Plain h5py follows them: without the gateway the secret bytes would be read."""
    with h5py.File(cases["external_storage"].path, "r") as f:
        assert SECRET in f["clips/s0/frames"][()].tobytes()
    with h5py.File(cases["virtual_dataset"].path, "r") as f:
        assert SECRET in f["clips/s1/frames"][()].tobytes()
    with h5py.File(cases["external_link"].path, "r") as f:
        assert SECRET in f["clips/s1/frames"][()].tobytes()


# ---------------------------------------------------------------- every reader on every defect


@pytest.mark.parametrize("name", NAMES)
def test_verify_lists_the_problem_and_never_crashes(cases, name):
    case = cases[name]
    for quick in ((), ("--quick",)):
        result = run("verify", str(case.path), *quick)
        assert_clean(result, case)
        assert result.exit_code == 1, result.output
        problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
        assert problems and any(case.names in line for line in problems), result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_read_index_and_dataset_refuse_cleanly(cases, name):
    case = cases[name]
    if case.stage == OPEN:
        with pytest.raises(OccmerError, match=None) as info:
            read_index(case.path)
        assert case.names in str(info.value)
    else:
        assert list(read_index(case.path)["sample_id"]) == list(IDS)
    # frames: every clip read whole
    if case.stage in (OPEN, CLIP):
        with pytest.raises(OccmerError) as info:
            ds = OccmerDataset(case.path, frames="all")
            [ds[i] for i in range(len(ds))]
        assert case.names in str(info.value)
    else:
        ds = OccmerDataset(case.path, frames="all")
        _no_secret([ds[i]["frames"] for i in range(len(ds))], case)
    # features: the same checks as bench (rows follow /samples, values finite)
    if case.stage in (OPEN, FEATURES):
        with pytest.raises(OccmerError) as info:
            ds = OccmerDataset(case.path, frames=None, features=FEATURE)
            [ds[i] for i in range(len(ds))]
        assert case.names in str(info.value)
    else:
        try:
            ds = OccmerDataset(case.path, frames=None, features=FEATURE)
            _no_secret([ds[i]["x"] for i in range(len(ds))], case)
        except OccmerError:
            pass  # a clip defect may be met first (landmarks of the onset frame)


@pytest.mark.parametrize("name", NAMES)
def test_inspect_and_preview_refuse_cleanly(cases, name, tmp_path):
    case = cases[name]
    result = run("inspect", str(case.path))
    if case.stage == OPEN and name != "incomplete":  # inspect shows incomplete files (complete: False)
        assert_refused(result, case)
    else:
        assert_clean(result, case)
    png = tmp_path / "sheet.png"
    result = run("preview", "--from", str(case.path), "--out", str(png))
    if case.stage in (OPEN, CLIP):
        assert_refused(result, case)
        assert not png.exists()
    else:
        assert_clean(result, case)


@pytest.mark.parametrize("name", NAMES)
def test_features_command_refuses_cleanly_and_leaves_the_file(cases, name, tmp_path):
    case = cases[name]
    target = copy_of(case, tmp_path)
    before = target.read_bytes()
    result = run("features", str(target), "--flow", "dis", "--size", "8", "--no-progress")
    if case.stage in (OPEN, CLIP):
        assert_refused(result, case)
        assert target.read_bytes() == before  # nothing written into a refused file
    else:
        assert_clean(result, case)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "incomplete"])
def test_bench_refuses_cleanly(cases, name, tmp_path):
    case = cases[name]
    if case.stage == CLIP:
        pytest.skip("a clip defect does not concern bench (it reads features; regions need landmarks only)")
    result = run("bench", "ststnet", "--data", str(case.path), "--epochs", "1", "--max-folds", "1",
                 "--device", "cpu", "--out", str(tmp_path / "bench"), "--no-progress")
    assert_refused(result, case)


def test_bench_refuses_an_incomplete_file(cases, tmp_path):
    case = cases["incomplete"]
    result = run("bench", "ststnet", "--data", str(case.path), "--epochs", "1", "--max-folds", "1",
                 "--device", "cpu", "--out", str(tmp_path / "bench"), "--no-progress")
    assert_refused(result, case)


def test_a_frames_dataset_claiming_200000_frames_is_refused_before_reading(cases):
    case = cases["claimed_frames_mismatch"]
    assert case.path.stat().st_size < 10 << 20  # the file is small; only the header claims 5.5 GiB
    ds = OccmerDataset(case.path, frames="all")
    with pytest.raises(OccmerError, match="clip s1: 200000 frames stored but /samples/n_frames says 5"):
        [ds[i] for i in range(len(ds))]


# ---------------------------------------------------------------- files that must pass


def test_a_valid_file_passes_every_reader(tmp_path):
    path = valid_file(tmp_path / "ok.h5")
    result = run("verify", str(path))
    assert result.exit_code == 0 and "ok" in result.output
    assert "clips: 3" in run("inspect", str(path)).output
    ds = OccmerDataset(path, frames="keyframes", features=FEATURE)
    item = ds[0]
    assert item["frames"].shape == (3, 3, 32, 32) and item["x"].shape == (3, 28, 28)
    result = run("preview", "--from", str(path), "--out", str(tmp_path / "sheet.png"))
    assert result.exit_code == 0 and (tmp_path / "sheet.png").exists()


def test_a_file_of_features_only_passes_verify_inspect_index_dataset_and_bench(tmp_path):
    path = features_only_file(tmp_path / "imported.h5")
    result = run("verify", str(path))
    assert result.exit_code == 0, result.output
    result = run("inspect", str(path))
    assert result.exit_code == 0 and "features only" in result.output and FEATURE in result.output
    assert list(read_index(path)["n_frames"]) == [0, 0, 0]
    ds = OccmerDataset(path, features=FEATURE)  # the default frame selection is read as none
    item = ds[1]
    assert item["x"].shape == (3, 28, 28) and "frames" not in item and "landmarks" not in item
    with pytest.raises(OccmerError, match="features only"):
        OccmerDataset(path, frames="all", features=FEATURE)
    result = run("bench", "ststnet", "--data", str(path), "--epochs", "1", "--max-folds", "1",
                 "--device", "cpu", "--out", str(tmp_path / "bench"), "--no-progress")
    assert result.exit_code == 0, result.output
    for args in (("preview", "--from", str(path), "--out", str(tmp_path / "x.png")),
                 ("features", str(path), "--flow", "dis", "--size", "8", "--no-progress")):
        result = run(*args)
        assert_clean(result)
        assert result.exit_code == 2 and "features only" in result.stderr


def test_a_file_of_features_only_without_a_complete_set_is_reported(tmp_path):
    path = features_only_file(tmp_path / "empty.h5")
    with h5py.File(path, "r+") as f:
        del f["features"]
    result = run("verify", str(path))
    assert result.exit_code == 1 and "at least one complete feature set" in result.stderr


def test_hard_link_cycles_and_deep_nesting_end_the_walk(tmp_path):
    """A group linked into itself is visited once; absurd nesting is named, not recursed into."""
    path = valid_file(tmp_path / "cycle.h5")
    with h5py.File(path, "r+") as f:
        f["clips/s0/back"] = f["clips"]  # a hard link to an ancestor: a cycle
    assert run("verify", str(path)).exit_code == 0
    assert list(read_index(path)["sample_id"]) == list(IDS)
    deep = valid_file(tmp_path / "deep.h5")
    with h5py.File(deep, "r+") as f:
        f.create_group("x/" + "/".join(["g"] * 40))
    result = run("verify", str(deep))
    assert result.exit_code == 1 and "nested deeper than" in result.stderr
