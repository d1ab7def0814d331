"""`occmer import` (flat folder, LOSO tree, .npy), `bench --weights` and `--recipe`, on synthetic files.

The synthetic release mimics the quirks of STSTNet's public MEGC 2019 inputs: 28x28 RGB
images named `<subject>_<clip> .png` (a space before the extension), a CSV with
dataset/sub/filename_o/label columns, SMIC written as `smic`, labels 0/1/2.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from occmer.bench.checkpoints import checkpoint_candidates
from occmer.bench.recipes import normalise_inputs, resolve_recipe, train_config
from occmer.bench.training import TrainConfig
from occmer.cli import cli
from occmer.data import read_index
from occmer.errors import ConfigError
from occmer.features import read_features
from occmer.models import build_model
from occmer.official import official_list
from occmer.store.verify import verify_store

SIZE = 28
# (dataset as the release writes it, subject, clips with label codes)
RELEASE = [
    ("casme2", "sub01", [("EP01_01f", 0), ("EP02_03", 1), ("EP03_02", 2)]),
    ("casme2", "sub02", [("EP01_11f", 0), ("EP05_01", 1)]),
    ("samm", "006", [("006_1_2", 0), ("006_1_3", 2)]),
    ("smic", "s01", [("s01_ne_01", 0), ("s01_po_01", 1), ("s01_sur_01", 2)]),
]


def _planes(index: int) -> np.ndarray:
    """(3, S, S) uint8 planes (u, v, strain), each min-max scaled to 0..255 like the release."""
    rng = np.random.default_rng(index)
    planes = rng.normal(size=(3, SIZE, SIZE))
    low, high = planes.min(axis=(1, 2), keepdims=True), planes.max(axis=(1, 2), keepdims=True)
    return np.round((planes - low) / (high - low) * 255).astype(np.uint8)


CODES = {"negative": 0, "positive": 1, "surprise": 2}


def _samples():
    """The release's samples; a clip the official MEGC 2019 list holds keeps its official label."""
    listed = official_list("megc2019")
    out = []
    for dataset, subject, clips in RELEASE:
        for clip, label in clips:
            official = listed.label({"smic": "smic-hs"}.get(dataset, dataset), subject, clip)
            out.append((dataset, subject, clip, CODES[official] if official else label, _planes(len(out))))
    return out


def _write_png(path: Path, planes: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), planes.transpose(1, 2, 0)[:, :, ::-1])  # cv2 writes BGR


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("release")
    samples = _samples()
    with open(root / "combined.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "sub", "filename_o", "label", "apex"])
        for dataset, subject, clip, label, _ in samples:
            writer.writerow([dataset, subject, clip, label, ""])
    for _dataset, subject, clip, label, planes in samples:
        _write_png(root / "flat" / f"{subject}_{clip} .png", planes)
        for fold in {s for _, s, *_ in RELEASE}:
            split = "u_test" if fold == subject else "u_train"
            _write_png(root / "tree" / fold / split / str(label) / f"{subject}_{clip} .png", planes)
    np.save(root / "inputs.npy", np.stack([p.astype(np.float32) for *_, p in samples]))
    return root


def _import(args: list[str]):
    return CliRunner().invoke(cli, ["import", *args], catch_exceptions=False)


def _import_ok(release: Path, source: str, out: Path, *extra: str) -> Path:
    result = _import([str(release / source), "--csv", str(release / "combined.csv"), "--db-map", "smic=smic-hs",
                      "--normalisation", "minmax-per-channel", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def test_flat_import_stores_named_planes_and_namespaced_samples(release, tmp_path):
    out = _import_ok(release, "flat", tmp_path / "flat.h5")
    assert verify_store(out) == []
    index = read_index(out)
    assert list(index["subject"])[:3] == ["casme2/sub01"] * 3
    assert set(index["database"]) == {"casme2", "samm", "smic-hs"}
    assert list(index["composite"])[:3] == ["negative", "positive", "surprise"]
    assert (index["n_frames"] == 0).all()
    features = read_features(out, "imported_28")
    assert features.channels == ["u", "v", "strain"]
    expected = np.stack([p for *_, p in _samples()]).astype(np.float32)
    np.testing.assert_array_equal(features.data, expected)
    with h5py.File(out, "r") as f:
        assert f.attrs["contents"] == "features" and "clips" not in f
        assert f["features/imported_28"].attrs["normalisation"] == "minmax-per-channel"
    inspected = CliRunner().invoke(cli, ["inspect", str(out)])
    assert inspected.exit_code == 0 and "features only" in inspected.output


def test_bgr_pixel_order_names_planes_as_cv2_reads_them(release, tmp_path):
    out = _import_ok(release, "flat", tmp_path / "bgr.h5", "--pixel-order", "bgr", "--channels", "strain,v,u")
    data = read_features(out, "imported_28").data
    np.testing.assert_array_equal(data, np.stack([p[::-1] for *_, p in _samples()]).astype(np.float32))


def test_loso_tree_gives_the_same_file_and_checks_copies(release, tmp_path):
    flat = _import_ok(release, "flat", tmp_path / "flat.h5")
    result = _import([str(release / "tree"), "--csv", str(release / "combined.csv"), "--db-map", "smic=smic-hs",
                      "--normalisation", "minmax-per-channel", "--out", str(tmp_path / "tree.h5")])
    assert result.exit_code == 0, result.output
    assert "every sample has 4 copies (1 test + 3 train), all pixel-identical" in result.output
    with h5py.File(flat, "r") as a, h5py.File(tmp_path / "tree.h5", "r") as b:
        for column in a["samples"]:
            np.testing.assert_array_equal(a["samples"][column][()], b["samples"][column][()])
        np.testing.assert_array_equal(a["features/imported_28/data"][()], b["features/imported_28/data"][()])


def test_loso_tree_with_a_differing_copy_is_an_error(release, tmp_path):
    tree = tmp_path / "tree"
    import shutil

    shutil.copytree(release / "tree", tree)
    victim = tree / "sub02" / "u_train" / "0" / "sub01_EP01_01f .png"
    planes = _planes(0)
    planes[0, 0, 0] ^= 1
    _write_png(victim, planes)
    result = CliRunner().invoke(cli, ["import", str(tree), "--csv", str(release / "combined.csv"), "--db-map",
                                      "smic=smic-hs", "--out", str(tmp_path / "x.h5")])
    assert result.exit_code != 0
    assert "differs from" in result.output and "sub01_EP01_01f" in result.output
    assert not (tmp_path / "x.h5").exists()


def test_npy_import_follows_csv_rows(release, tmp_path):
    out = _import_ok(release, "inputs.npy", tmp_path / "npy.h5")
    np.testing.assert_array_equal(read_features(out, "imported_28").data,
                                  np.stack([p for *_, p in _samples()]).astype(np.float32))


def test_npy_with_pickled_objects_is_refused(release, tmp_path):
    bad = tmp_path / "objects.npy"
    np.save(bad, np.array([{"a": 1}] * 10, dtype=object), allow_pickle=True)
    result = CliRunner().invoke(cli, ["import", str(bad), "--csv", str(release / "combined.csv"), "--db-map",
                                      "smic=smic-hs", "--out", str(tmp_path / "x.h5")])
    assert result.exit_code != 0 and "without pickled objects" in result.output


def test_unknown_database_name_is_refused_with_occmer_names(release, tmp_path):
    result = CliRunner().invoke(cli, ["import", str(release / "flat"), "--csv", str(release / "combined.csv"),
                                      "--out", str(tmp_path / "x.h5")])
    assert result.exit_code != 0
    assert "'smic'" in result.output and "smic-hs" in result.output and "--db-map smic=" in result.output
    assert "line 9" in result.output  # the first smic row (header = line 1)


def test_missing_image_names_the_csv_line(release, tmp_path):
    rows = (release / "combined.csv").read_text().splitlines()
    (tmp_path / "more.csv").write_text("\n".join([*rows, "samm,006,006_9_9,1,"]) + "\n")
    result = CliRunner().invoke(cli, ["import", str(release / "flat"), "--csv", str(tmp_path / "more.csv"),
                                      "--db-map", "smic=smic-hs", "--out", str(tmp_path / "x.h5")])
    assert result.exit_code != 0 and "line 12" in result.output and "006_006_9_9" in result.output


def test_bad_label_code_names_the_line(release, tmp_path):
    rows = (release / "combined.csv").read_text().splitlines()
    rows[1] = rows[1].replace(",0,", ",7,")
    (tmp_path / "bad.csv").write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(cli, ["import", str(release / "flat"), "--csv", str(tmp_path / "bad.csv"),
                                      "--db-map", "smic=smic-hs", "--out", str(tmp_path / "x.h5")])
    assert result.exit_code != 0 and "line 2" in result.output and "'7'" in result.output


def test_bench_refuses_a_file_whose_database_occmer_does_not_know(release, tmp_path):
    """The silent-drop trap: `smic` under megc2019 would lose every SMIC sample; it is an error."""
    out = _import_ok(release, "flat", tmp_path / "flat.h5")
    with h5py.File(out, "r+") as f:
        names = [b"smic" if d == b"smic-hs" else d for d in f["samples/database"][()]]
        del f["samples/database"]
        f["samples"].create_dataset("database", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--protocol", "megc2019", "--membership", "rules", "--data", str(out),
                                      "--out", str(tmp_path / "bench"), "--epochs", "1", "--no-progress"])
    assert result.exit_code != 0
    assert "'smic' is not an occmer database" in result.output and "--db-map smic=" in result.output


def _fold_inputs(path: Path, sample_ids: list[str]) -> torch.Tensor:
    features = read_features(path, "imported_28")
    rows = [features.sample_ids.index(s) for s in sample_ids]
    x = features.data[rows][:, [2, 1, 0]]  # the paper recipe feeds (strain, v, u): cv2's BGR order
    return torch.from_numpy(normalise_inputs(x, "minmax-255"))


def test_weights_round_trip_gives_the_checkpoints_predictions(release, tmp_path):
    data = _import_ok(release, "flat", tmp_path / "flat.h5")
    weights = tmp_path / "weights"
    (weights / "casme2").mkdir(parents=True)
    models = {}
    for number, (_, subject, _) in enumerate(RELEASE):
        database = "smic-hs" if subject == "s01" else "casme2" if subject.startswith("sub") else "samm"
        model = build_model("ststnet", 3, 3, seed=number)
        with torch.no_grad():  # give BatchNorm non-trivial statistics, as a trained checkpoint has
            model.bn1.running_mean.uniform_(0, 50)
            model.bn2.running_var.uniform_(0.5, 4)
        models[f"{database}/{subject}"] = model.eval()
        # each of the documented names once
        name = {"sub01": f"casme2/{subject}.pth", "sub02": f"casme2_{subject}.pth"}.get(subject, f"{subject}.pt")
        torch.save(model.state_dict(), weights / name)
    out = tmp_path / "bench"
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--protocol", "megc2019", "--membership", "rules", "--data", str(data),
                                      "--weights", str(weights), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "recipe paper" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["recipes"]["ststnet"]["channels"] == ["strain", "v", "u"]
    assert config["settings"]["weights"] == str(weights)
    folds = sorted((out / "folds").rglob("*.json"))
    assert len(folds) == 4
    classes = ["negative", "positive", "surprise"]
    for path in folds:
        record = json.loads(path.read_text())
        with torch.no_grad():
            logits = models[record["fold"]]({"x": _fold_inputs(data, record["sample_id"])}).logits
        assert record["pred"] == [classes[i] for i in logits.argmax(1).tolist()]
        np.testing.assert_allclose(record["probabilities"], torch.softmax(logits, 1).numpy(), atol=1e-5)
        assert len(record["weights"]["sha256"]) == 64


def test_weights_that_do_not_fit_name_the_tensor(release, tmp_path):
    data = _import_ok(release, "flat", tmp_path / "flat.h5")
    weights = tmp_path / "weights"
    weights.mkdir()
    for _, subject, _ in RELEASE:
        torch.save(build_model("ststnet", 4, 3, seed=0).state_dict(), weights / f"{subject}.pth")
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--protocol", "megc2019", "--membership", "rules", "--data", str(data),
                                      "--weights", str(weights), "--out", str(tmp_path / "b"), "--no-progress"])
    assert result.exit_code != 0 and "tensor fc.weight has shape (4, 400)" in result.output
    (weights / "sub01.pth").unlink()
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--protocol", "megc2019", "--membership", "rules", "--data", str(data),
                                      "--weights", str(weights), "--out", str(tmp_path / "c"), "--no-progress"])
    assert result.exit_code != 0 and "no checkpoint for held-out subject casme2/sub01" in result.output


def test_checkpoint_names_tried_per_fold(tmp_path):
    names = [p.relative_to(tmp_path).as_posix() for p in checkpoint_candidates(tmp_path, "casme2/sub01")]
    assert names[:4] == ["casme2/sub01.pth", "casme2/sub01.pt", "casme2/sub01.pkl", "casme2_sub01.pth"]
    assert "sub01.pth" in names


def test_recipes_resolve_and_command_line_options_win():
    paper = resolve_recipe("ststnet", "paper")
    assert (paper.optimizer, paper.lr, paper.epochs, paper.batch_size) == ("adam", 5e-5, 800, 256)
    config = train_config(paper, TrainConfig(epochs=5), overrides=("epochs",))
    assert (config.optimizer, config.lr, config.epochs) == ("adam", 5e-5, 5)
    assert resolve_recipe("rrrn", "default").lr == 1e-3
    with pytest.raises(ConfigError, match="no published recipe"):
        resolve_recipe("offapexnet", "paper")


def test_minmax_255_is_identity_on_scaled_inputs():
    x = np.stack([p for *_, p in _samples()]).astype(np.float32)
    np.testing.assert_array_equal(normalise_inputs(x, "minmax-255"), x)
    flow = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    scaled = normalise_inputs(flow, "minmax-255")
    assert scaled.min() == 0 and scaled.max() == 255


def test_paper_recipe_trains_and_config_records_the_resolved_recipe(release, tmp_path):
    data = _import_ok(release, "flat", tmp_path / "flat.h5")
    out = tmp_path / "bench"
    args = ["bench", "ststnet", "--protocol", "megc2019", "--membership", "rules", "--data", str(data), "--out", str(out), "--no-progress",
            "--max-folds", "1"]
    result = CliRunner().invoke(cli, [*args, "--recipe", "paper", "--epochs", "2"])
    assert result.exit_code == 0, result.output
    recipe = json.loads((out / "config.json").read_text())["recipes"]["ststnet"]
    assert (recipe["optimizer"], recipe["lr"], recipe["epochs"], recipe["batch_size"]) == ("adam", 5e-5, 2, 256)
    assert recipe["channels"] == ["strain", "v", "u"] and recipe["input_normalisation"] == "minmax-255"
    assert recipe["hparams"] == {"ststnet.variant": "reference"} and "christy1206" in recipe["source"]
    again = CliRunner().invoke(cli, [*args, "--recipe", "default", "--epochs", "2"])
    assert again.exit_code != 0 and "different" in again.output


def test_dataset_reads_features_of_an_imported_file(release, tmp_path):
    from occmer.data import OccmerDataset

    out = _import_ok(release, "flat", tmp_path / "flat.h5")
    dataset = OccmerDataset(out, labels="megc2019-rules", frames=None, features="imported_28")
    item = dataset[0]
    assert len(dataset) == 10 and tuple(item["x"].shape) == (3, SIZE, SIZE) and "landmarks" not in item
    with pytest.raises(ConfigError, match="features only"):
        OccmerDataset(out, labels="megc2019")


def test_an_image_linked_from_outside_the_folder_is_refused(release, tmp_path):
    import shutil

    flat = tmp_path / "flat"
    shutil.copytree(release / "flat", flat)
    outside = tmp_path / "elsewhere.png"
    _write_png(outside, _planes(99))
    victim = flat / "sub01_EP01_01f .png"
    victim.unlink()
    victim.symlink_to(outside)
    result = CliRunner().invoke(cli, ["import", str(flat), "--csv", str(release / "combined.csv"), "--db-map",
                                      "smic=smic-hs", "--out", str(tmp_path / "x.h5")])
    assert result.exit_code != 0 and "outside" in result.output


def test_weights_take_one_model_and_one_seed(release, tmp_path):
    data = _import_ok(release, "flat", tmp_path / "flat.h5")
    for extra in (["--seeds", "2"], ["offapexnet"]):
        result = CliRunner().invoke(cli, ["bench", "ststnet", *extra, "--data", str(data), "--weights", str(tmp_path),
                                          "--out", str(tmp_path / "b"), "--no-progress"])
        assert result.exit_code != 0 and "one MODEL" in result.output


def test_a_label_against_the_official_list_names_the_csv_line(release, tmp_path):
    """MEGC 2019 labels are checked against the shipped official list: a contradiction is an error."""
    listed = next(c for c in official_list("megc2019").clips if c.database == "casme2")
    wrong = next(code for name, code in CODES.items() if name != listed.label)
    csv_path = tmp_path / "wrong.csv"
    csv_path.write_text("dataset,sub,filename_o,label,apex\n"
                        f"casme2,{listed.subject},{listed.filename},{wrong},\n")
    result = CliRunner().invoke(cli, ["import", str(release / "flat"), "--csv", str(csv_path),
                                      "--out", str(tmp_path / "x.h5")])
    assert result.exit_code == 2
    assert f"{csv_path}:2:" in result.output and "official MEGC 2019 list" in result.output
    assert not (tmp_path / "x.h5").exists()
