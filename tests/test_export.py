"""`occmer export`: the community's layouts, written atomically inside OUTDIR, read back by `occmer import`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from test_bench_support import write_tiny

import occmer.data as od
import occmer.export as export_module
from occmer.cli import cli
from occmer.export import minmax_image
from occmer.store import OccmerFile


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A file with an occluder and flow_tvl1_28 features, its splits stored (4 subjects x 3 classes)."""
    path = write_tiny(tmp_path_factory.mktemp("export") / "masked.h5", occluded=True)
    assert run("splits", str(path)).exit_code == 0
    return path


def _features(path: Path) -> tuple[np.ndarray, list[str]]:
    with OccmerFile.open(path) as f:
        return f.features(f.feature_names()[0]).data, f.sample_ids


def _rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return image[:, :, ::-1].transpose(2, 0, 1)  # cv2 gives B, G, R


def _rows(out: Path) -> list[dict]:
    with open(out / "samples.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_minmax_image_scales_each_plane_to_0_255():
    planes = np.stack([np.linspace(-2, 3, 16).reshape(4, 4), np.full((4, 4), 7.0), np.eye(4)])
    image = minmax_image(planes)
    assert image.dtype == np.uint8
    assert image[0].min() == 0 and image[0].max() == 255
    assert not image[1].any()  # a constant plane
    assert set(np.unique(image[2])) == {0, 255}


def test_ststnet_tree_holds_every_fold_with_u_v_strain_images(source, tmp_path):
    out = tmp_path / "tree"
    result = run("export", str(source), str(out), "--layout", "ststnet-loso")
    assert result.exit_code == 0, result.output
    assert "12 samples of protocol megc2019" in result.output
    tree = out / "norm_u_v_os"
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "norm_u_v_os", "samples.csv"]
    subjects = sorted(p.name for p in tree.iterdir())  # the reference code takes every entry as a subject
    assert subjects == ["s00", "s01", "s02", "s03"] and all((tree / s).is_dir() for s in subjects)
    for subject in subjects:
        tests = sorted((tree / subject / "u_test").rglob("*.png"))
        trains = sorted((tree / subject / "u_train").rglob("*.png"))
        assert len(tests) == 3 and len(trains) == 9
        assert all(p.name.startswith(f"{subject}_") for p in tests)
        assert not any(p.name.startswith(f"{subject}_") for p in trains)
    rows = _rows(out)
    data, ids = _features(source)
    row = rows[0]
    image = tree / row["subject"] / "u_test" / row["label"] / f"{row['subject']}_{row['clip']}.png"
    assert _rgb(image).shape == (3, 28, 28)
    np.testing.assert_array_equal(_rgb(image), minmax_image(data[ids.index(row["sample_id"])]))
    codes = {r["class"]: r["label"] for r in rows}
    assert codes == {"negative": "0", "positive": "1", "surprise": "2"}  # STSTNet's codes
    info = json.loads((out / "export.json").read_text())
    assert info["protocol"] == "megc2019" and info["channels"] == {"red": "u", "green": "v", "blue": "strain"}
    assert "occmer import" in info["import_command"] and "--train-dir u_train" in info["import_command"]


def test_flat_and_npy_layouts(source, tmp_path):
    data, ids = _features(source)
    assert run("export", str(source), str(tmp_path / "flat"), "--layout", "flat", "--protocol", "loso").exit_code == 0
    rows = _rows(tmp_path / "flat")
    assert {r["class"] for r in rows} == {"happiness", "surprise", "disgust"}
    assert len(list((tmp_path / "flat" / "STSNet_whole_norm_u_v_os").iterdir())) == 12
    assert run("export", str(source), str(tmp_path / "npy"), "--layout", "npy").exit_code == 0
    array = np.load(tmp_path / "npy" / "features.npy", allow_pickle=False)
    rows = _rows(tmp_path / "npy")
    assert array.dtype == np.float32 and array.shape == (12, 3, 28, 28)
    np.testing.assert_array_equal(array, data[[ids.index(r["sample_id"]) for r in rows]])


def test_a_non_empty_outdir_needs_overwrite(source, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run("export", str(source), str(out), "--layout", "npy")
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert (out / "notes.txt").read_text() == "mine"
    assert run("export", str(source), str(out), "--layout", "npy", "--overwrite").exit_code == 0
    assert not (out / "notes.txt").exists() and (out / "features.npy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]  # nothing left beside it


def test_an_outdir_holding_the_input_is_refused(source, tmp_path):
    result = run("export", str(source), str(source.parent), "--layout", "npy", "--overwrite")
    assert result.exit_code == 2 and "would hold or replace the input" in result.output
    assert source.exists()


def test_a_failed_export_leaves_outdir_as_it_was(source, tmp_path, monkeypatch):
    out = tmp_path / "kept"
    assert run("export", str(source), str(out), "--layout", "npy").exit_code == 0
    before = sorted(p.name for p in out.iterdir())

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export_module, "_write_csv", broken)
    with pytest.raises(OSError):
        export_module.export_file(source, "flat", out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]


def test_ststnet_size_and_channels_are_checked(tmp_path):
    path = write_tiny(tmp_path / "plain.h5")
    with OccmerFile.open(path, mode="r+") as f:
        fs = f.features("flow_tvl1_28")
        f.write_feature_set("flow_tvl1_14", fs.data[:, :, ::2, ::2].copy(), fs.occlusion[:, ::2, ::2].copy(),
                            fs.scale, {"method": "tvl1", "size": 14, "channels": json.dumps(fs.channels),
                                       "params": "{}", "normalisation": "none"})
    result = run("export", str(path), str(tmp_path / "t"), "--layout", "ststnet-loso", "--features", "flow_tvl1_14")
    assert result.exit_code == 2 and "28x28" in result.output
    result = run("export", str(path), str(tmp_path / "t"), "--layout", "ststnet-loso", "--protocol", "megc2018-hde")
    assert result.exit_code == 2 and "does not apply" in result.output


def test_export_then_import_gives_the_original_features(source, tmp_path):
    """ststnet-loso -> occmer import: the min-max scaled features, exactly (original to 1/510 of each range)."""
    data, ids = _features(source)
    out = tmp_path / "tree"
    assert run("export", str(source), str(out), "--layout", "ststnet-loso").exit_code == 0
    imported = tmp_path / "imported.h5"
    result = run("import", str(out / "norm_u_v_os"), "--csv", str(out / "samples.csv"), "--layout", "loso", "--train-dir", "u_train",
                 "--test-dir", "u_test", "--normalisation", "minmax-per-channel", "--out", str(imported))
    assert result.exit_code == 0, result.output
    back, _ = _features(imported)  # rows follow samples.csv, which names each original sample
    order = [ids.index(r["sample_id"]) for r in _rows(out)]
    original = data[order]
    np.testing.assert_array_equal(back, np.stack([minmax_image(x) for x in original]).astype(np.float32))
    low = original.min(axis=(2, 3), keepdims=True)
    span = original.max(axis=(2, 3), keepdims=True) - low
    assert np.all(np.abs(back / 255.0 * span + low - original) <= span / 510.0 + 1e-6)
    # the imported file carries its /splits (written by `occmer import`), and bench uses them
    assert "megc2019" in od.stored_protocols(imported)
    assert run("bench", "ststnet", "--data", f"clean={imported}", "--protocol", "megc2019", "--epochs", "1",
               "--out", str(tmp_path / "run"), "--no-progress").exit_code == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["plan"]["ststnet|clean"]["folds_source"] == f"stored: /splits/megc2019 of {imported}"
    # npy: the stored values, exactly
    assert run("export", str(source), str(tmp_path / "npy"), "--layout", "npy").exit_code == 0
    npy = tmp_path / "npy.h5"
    assert run("import", str(tmp_path / "npy" / "features.npy"), "--csv", str(tmp_path / "npy" / "samples.csv"),
               "--normalisation", "none", "--out", str(npy)).exit_code == 0
    back, _ = _features(npy)
    np.testing.assert_array_equal(back, data[[ids.index(r["sample_id"]) for r in _rows(tmp_path / "npy")]])
