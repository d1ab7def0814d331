"""/splits/<protocol>/: computed from the sample table, written by synthesize and `occmer splits`,
read by occmer.data, h5py alone and h5dump, and used by bench (same table as computed folds)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from test_bench_support import write_tiny

import occmer.data as od
from occmer.cli import cli
from occmer.errors import StoreError
from occmer.labels import label_of
from occmer.protocols import PROTOCOLS
from occmer.protocols.splits import compute_split, compute_splits
from occmer.store import OccmerFile
from occmer.store.verify import verify_store

torch.set_num_threads(1)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "hdf5-format.md"
BENCH = ["--epochs", "1", "--batch-size", "4", "--no-progress"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def _table(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """(database, subject, filename, emotion) rows -> a /samples-like table."""
    out = []
    for database, subject, filename, emotion in rows:
        out.append({"sample_id": f"{database}_{subject}_{filename}", "database": database,
                    "subject": f"{database}/{subject}", "filename": filename, "emotion": emotion,
                    "objective_class": "", "composite": "", "action_units": "", "apex_source": "",
                    "objective_source": "", "fixes": "[]"})
    return pd.DataFrame(out)


# ---------------------------------------------------------------- computing


def test_loso_split_tests_each_labelled_sample_once_by_subject():
    table = _table([("demo", "sub01", "a", "happiness"), ("demo", "sub01", "b", "surprise"),
                    ("demo", "sub02", "a", "disgust"), ("demo", "sub02", "b", ""),
                    ("demo", "sub03", "a", "happiness")])
    split = compute_split(PROTOCOLS["loso"], table)
    assert split.fold_names == ["demo/sub01", "demo/sub02", "demo/sub03"]
    assert split.test_fold.tolist() == [0, 0, 1, -1, 2]  # the unlabelled clip is in no fold
    assert split.label_scheme == "emotion" and not split.official
    assert [split.class_of(i) for i in range(5)] == ["happiness", "surprise", "disgust", "", "happiness"]
    name, train, test = split.folds()[1]
    assert name == "demo/sub02" and test.tolist() == [2] and train.tolist() == [0, 1, 4]


def test_protocols_stored_follow_the_databases_present():
    demo = _table([("demo", f"sub0{s}", f"EP0{c}", e) for s in (1, 2) for c, e in
                   enumerate(("happiness", "surprise", "disgust"))])
    demo["composite"] = demo["emotion"].map({"happiness": "positive", "surprise": "surprise", "disgust": "negative"})
    demo["objective_class"] = demo["emotion"].map({"happiness": "I", "surprise": "II", "disgust": "IV"})
    assert [s.protocol for s in compute_splits(demo)] == ["loso", "megc2018-cde", "megc2019"]
    smic = _table([("smic-hs", f"s{s}", f"c{c}", "positive") for s in (1, 2) for c in (1, 2)])
    assert [s.protocol for s in compute_splits(smic)] == ["loso"]  # megc2019 needs its official list's labels
    assert compute_splits(demo.iloc[:0]) == []


def test_holdout_over_three_databases_is_not_stored():
    """A clip of the third database would be tested in two folds: one integer per sample cannot say it."""
    table = _table([(db, f"s{s}", f"c{c}", "happiness") for db in ("casme2", "samm", "demo")
                    for s in (1, 2) for c in (1, 2)])
    table["objective_class"] = "I"
    fake = PROTOCOLS["megc2018-hde"].__class__("hde3", "", "objective", None, "holdout")
    assert compute_split(fake, table) is None


# ---------------------------------------------------------------- in files


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory, small_demo_root) -> Path:
    """`occmer synthesize` of the small demo, with features: /splits written at assembly."""
    out = tmp_path_factory.mktemp("splits") / "demo_block.h5"
    result = run("synthesize", "--db", "demo", "--root", str(small_demo_root), "--mask", "block", "--size", "96",
                 "--features", "farneback:28", "--out", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    return out


def test_synthesized_file_carries_splits(demo_file):
    assert od.stored_protocols(demo_file) == ["loso", "megc2018-cde", "megc2019"]
    split = od.read_splits(demo_file, "megc2019")
    assert split.class_names == ["negative", "positive", "surprise"] and split.label_scheme == "megc2019"
    index = od.read_index(demo_file)
    members = [bool(label_of(row, "megc2019")) for row in index.to_dict("records")]  # the demo's 7 classes: some out
    assert len(split.fold_names) == 3 and list(split.test_fold >= 0) == members and 0 < sum(members) < len(index)
    for name, train, test in split.folds():
        assert set(index["subject"].iloc[test]) == {name}
        assert name not in set(index["subject"].iloc[train])
    assert verify_store(demo_file) == []
    inspect = run("inspect", str(demo_file))
    assert f"  megc2019: {sum(members)} samples, 3 folds, labels megc2019, membership rules" in inspect.output


def test_docs_h5py_example_runs_on_a_synthesized_file(demo_file, tmp_path, monkeypatch):
    text = DOCS.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if 'f["splits/loso"]' in b]
    assert len(blocks) == 1
    code = blocks[0].replace('"out/demo_glasses.h5"', repr(str(demo_file))).replace("flow_tvl1_28", "flow_farneback_28")
    assert "import occmer" not in code
    scope: dict = {}
    exec(compile(code, str(DOCS), "exec"), scope)  # noqa: S102 - the documentation's own example
    assert scope["class_names"] == od.read_splits(demo_file, "loso").class_names
    assert scope["x_test"].shape[1:] == (3, 28, 28)


def test_h5dump_reads_the_splits(demo_file):
    """A non-Python HDF5 reader sees the strings and attributes (CI installs hdf5-tools)."""
    if shutil.which("h5dump") is None:
        pytest.skip("h5dump not found: install Debian's hdf5-tools (`apt-get install -y hdf5-tools`; .ci/run does)")
    out = subprocess.run(["h5dump", "-g", "/splits/megc2019", str(demo_file)], capture_output=True, text=True,
                         check=True).stdout
    assert '"demo/sub01"' in out and '"negative"' in out and '"surprise"' in out
    assert re.search(r'ATTRIBUTE "label_scheme".*?"megc2019"', out, re.S)
    assert re.search(r'ATTRIBUTE "official".*?H5T_STD_I8LE.*?\(0\): 0', out, re.S)
    assert "H5T_CSET_UTF8" in out and 'DATASET "test_fold"' in out


def test_occmer_splits_writes_older_files_and_keeps_existing_ones(tmp_path):
    path = write_tiny(tmp_path / "old.h5")
    assert od.stored_protocols(path) == []
    with pytest.raises(StoreError, match="occmer splits"):
        od.read_splits(path, "loso")
    result = run("splits", str(path))
    assert result.exit_code == 0, result.output
    assert "/splits/loso: 12 samples in 4 folds" in result.output
    assert od.stored_protocols(path) == ["loso", "megc2018-cde", "megc2019"]
    again = run("splits", str(path))
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert run("splits", str(path), "--overwrite").exit_code == 0
    assert not [p for p in verify_store(path) if "splits" in p]  # (write_tiny's clips lack placements)


def test_a_split_that_does_not_follow_samples_is_refused(tmp_path):
    path = write_tiny(tmp_path / "bad.h5")
    assert run("splits", str(path)).exit_code == 0
    with h5py.File(path, "r+") as f:
        f["splits/loso/test_fold"][0] = 99
    with pytest.raises(StoreError, match=r"/splits/loso: test_fold values must lie in -1\.\.3"):
        od.read_splits(path, "loso")
    assert any("/splits/loso" in p for p in verify_store(path))


# ---------------------------------------------------------------- bench uses them


def _bench(data: Path, out: Path, *extra: str) -> dict:
    result = run("bench", "ststnet", "--data", f"clean={data}", "--out", str(out), *BENCH, *extra)
    assert result.exit_code == 0, result.output
    return json.loads((out / "config.json").read_text())


def test_bench_uses_stored_folds_and_gives_the_same_table(tmp_path):
    before = write_tiny(tmp_path / "before.h5")
    computed = _bench(before, tmp_path / "computed")
    assert computed["plan"]["ststnet|clean"]["folds_source"] == "computed"
    stored_file = tmp_path / "stored.h5"
    shutil.copy(before, stored_file)
    assert run("splits", str(stored_file)).exit_code == 0
    stored = _bench(stored_file, tmp_path / "stored")
    plan = stored["plan"]["ststnet|clean"]
    assert plan["folds_source"] == f"stored: /splits/loso of {stored_file}"
    assert plan["folds"] == computed["plan"]["ststnet|clean"]["folds"]
    table_a = pd.read_csv(tmp_path / "computed" / "table.csv")
    table_b = pd.read_csv(tmp_path / "stored" / "table.csv")
    pd.testing.assert_frame_equal(table_a, table_b)
    # --labels other than the stored scheme: computed, as before
    other = _bench(stored_file, tmp_path / "objective", "--labels", "objective")
    assert other["plan"]["ststnet|clean"]["folds_source"] == "computed"


def test_bench_follows_folds_a_file_stores(tmp_path):
    """Stored folds are the ones used: here two subjects share one stored fold."""
    path = write_tiny(tmp_path / "custom.h5")
    assert run("splits", str(path)).exit_code == 0
    with OccmerFile.open(path, mode="r+") as f:
        split = f.split("loso")
        split.test_fold = np.where(split.test_fold == 3, 2, split.test_fold).astype(np.int32)
        split.fold_names = ["demo/s00", "demo/s01", "demo/s02+s03"]
        f.write_splits([split])
    result = run("bench", "ststnet", "--data", f"clean={path}", "--out", str(tmp_path / "run"), *BENCH)
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["plan"]["ststnet|clean"]["folds"] == ["demo/s00", "demo/s01", "demo/s02+s03"]


def test_bench_refuses_stored_membership_that_differs(tmp_path):
    path = write_tiny(tmp_path / "drift.h5")
    assert run("splits", str(path)).exit_code == 0
    with OccmerFile.open(path, mode="r+") as f:
        split = f.split("loso")
        split.test_fold[0] = -1
        split.label[0] = -1
        f.write_splits([split])
    result = run("bench", "ststnet", "--data", f"clean={path}", "--out", str(tmp_path / "run"), *BENCH)
    assert result.exit_code != 0
    assert "demo_s0_c0_0" in result.output and "occmer splits FILE --overwrite" in result.output


def test_a_malformed_splits_group_is_a_clean_error(tmp_path):
    path = write_tiny(tmp_path / "hostile.h5")
    with h5py.File(path, "r+") as f:
        f["splits"] = np.zeros(3)  # a dataset where the group belongs
    with pytest.raises(StoreError, match="/splits: expected a group"):
        od.stored_protocols(path)
    assert any(p.startswith("/splits: expected a group") for p in verify_store(path))
    result = run("bench", "ststnet", "--data", f"clean={path}", "--out", str(tmp_path / "run"), *BENCH)
    assert result.exit_code != 0 and "/splits" in result.output and "Traceback" not in result.output


def test_bench_on_a_synthesized_file_uses_its_folds_same_table(demo_file, tmp_path):
    stored = _bench(demo_file, tmp_path / "stored", "--protocol", "megc2019")
    assert stored["plan"]["ststnet|clean"]["folds_source"].startswith("stored: /splits/megc2019")
    bare = tmp_path / "bare.h5"
    shutil.copy(demo_file, bare)
    with h5py.File(bare, "r+") as f:
        del f["splits"]
    computed = _bench(bare, tmp_path / "computed", "--protocol", "megc2019")
    assert computed["plan"]["ststnet|clean"]["folds_source"] == "computed"
    assert computed["plan"]["ststnet|clean"]["folds"] == stored["plan"]["ststnet|clean"]["folds"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "stored" / "table.csv"),
                                  pd.read_csv(tmp_path / "computed" / "table.csv"))
