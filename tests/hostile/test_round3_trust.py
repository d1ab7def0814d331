"""Hostile inputs, third round (issue 27), the trust cases: paths a file names that occmer must not
open on its word, one rule for existing outputs, decompression bombs and other crashes that must be
one-line errors, checks that close silent gaps (non-finite checkpoints, forged fold files, degenerate
template anchors) and messages that must name the right cause and path. Every input is built by code.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from cli_checks import assert_one_line_error, digest, invoke, synth_args
from PIL import Image

import occmer.pages.page
from occmer.errors import BenchError, TemplateError

GOOD_TEMPLATE = {"image": "patch.png", "warp": "affine", "anchors": {"61": [15, 25], "291": [65, 25], "1": [40, 8]}}


def _with_settings(source: Path, out: Path, **changes: object) -> Path:
    """A copy of `source` whose recorded synthesis settings carry `changes`."""
    shutil.copy(source, out)
    with h5py.File(out, "r+") as f:
        settings = json.loads(f.attrs["settings"])
        settings.update(changes)
        f.attrs["settings"] = json.dumps(settings)
    return out


def _template(folder: Path, data: dict | None = None, name: str = "patch.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    image = np.zeros((40, 80, 4), np.uint8)
    image[5:35, 5:75] = (200, 40, 40, 255)
    Image.fromarray(image, "RGBA").save(folder / "patch.png")
    path = folder / name
    path.write_text(json.dumps(data or GOOD_TEMPLATE))
    return path


# ------------------------------------------------------------------------------------------------
# Security: paths stored in a file are never opened on the file's word
# ------------------------------------------------------------------------------------------------

def test_inspect_does_not_open_a_template_path_stored_in_the_file(tmp_path, block_file, small_demo_root):
    secret = tmp_path / "secret.json"
    secret.write_text("not json")
    for target in (secret, tmp_path / "absent.json"):
        file = _with_settings(block_file, tmp_path / "f.h5", mask=f"custom:{target}")
        result = invoke("inspect", file, "--html", "--quiet", "--root", small_demo_root, "--out", tmp_path / "p.html")
        line = assert_one_line_error(result, 2, "--template", "--no-clean")
        assert "not valid JSON" not in line and "No such file" not in line, "the message must not tell what exists"


def test_inspect_does_not_hang_on_a_fifo_named_by_the_file(tmp_path, block_file, small_demo_root):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    file = _with_settings(block_file, tmp_path / "f.h5", mask=f"custom:{fifo}")
    proc = subprocess.run([sys.executable, "-m", "occmer", "inspect", str(file), "--html", "--root",
                           str(small_demo_root), "--out", str(tmp_path / "p.html")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--template" in proc.stderr, proc.stderr


def test_inspect_takes_the_template_again_from_the_command_line(tmp_path, small_demo_root, small_demo_clips):
    from occmer.pipeline import SynthesisSettings, synthesize

    template = _template(tmp_path / "tpl")
    file = tmp_path / "custom.h5"
    synthesize(SynthesisSettings(database="demo", mask=f"custom:{template}", size=96, seed=0), small_demo_clips[:2],
               file, progress=False)
    page = tmp_path / "p.html"
    result = invoke("inspect", file, "--html", "--quiet", "--root", small_demo_root, "--out", page, "--template", template)
    assert result.exit_code == 0, result.output
    assert "clean frames not shown" not in page.read_text()
    missing = invoke("inspect", file, "--html", "--quiet", "--root", small_demo_root, "--out", tmp_path / "q.html",
                     "--template", tmp_path / "nowhere.json")
    assert_one_line_error(missing, 2, "nowhere.json")


def test_inspect_does_not_read_a_landmark_folder_stored_in_the_file(tmp_path, block_file, small_demo_root):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    file = _with_settings(block_file, tmp_path / "f.h5", landmarks="file",
                          landmark_options={"folder": str(elsewhere)})
    result = invoke("inspect", file, "--html", "--quiet", "--root", small_demo_root, "--out", tmp_path / "p.html")
    assert_one_line_error(result, 2, "--landmarks-dir", "--no-clean")
    assert not (tmp_path / "p.html").exists()


def test_inspect_without_clean_frames_needs_no_path(tmp_path, block_file):
    file = _with_settings(block_file, tmp_path / "f.h5", mask=f"custom:{tmp_path / 'x.json'}")
    assert invoke("inspect", file, "--html", "--quiet", "--no-clean", "--out", tmp_path / "p.html").exit_code == 0


# ------------------------------------------------------------------------------------------------
# Integrity: an existing output is replaced only with --overwrite, by every command
# ------------------------------------------------------------------------------------------------

def test_inspect_html_does_not_replace_an_unrelated_file(tmp_path, block_file):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = invoke("inspect", block_file, "--html", "--quiet", "--no-clean", "--out", notes)
    assert_one_line_error(result, 2, "already exists", "--overwrite")
    assert notes.read_text() == "my notes\n"
    assert invoke("inspect", block_file, "--html", "--quiet", "--no-clean", "--out", notes, "--overwrite").exit_code == 0
    assert notes.read_text().startswith("<!DOCTYPE html>")


def test_inspect_html_out_under_a_regular_file_is_refused(tmp_path, block_file):
    (tmp_path / "plain").write_text("x")
    result = invoke("inspect", block_file, "--html", "--quiet", "--no-clean", "--out", tmp_path / "plain" / "p.html")
    assert_one_line_error(result, 2, "is a file, not a folder")


def test_inspect_html_on_a_full_disk_names_the_path_and_leaves_no_temporary_file(tmp_path, block_file, monkeypatch):
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name.endswith(".tmp"):
            real(self, "half", encoding="utf-8")
            raise OSError(28, os.strerror(28))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    out = tmp_path / "p.html"
    result = invoke("inspect", block_file, "--html", "--quiet", "--no-clean", "--out", out)
    assert_one_line_error(result, 2, "disk is full", out)
    assert [p.name for p in tmp_path.iterdir()] == []
    assert occmer.pages.page  # the page writer is the one patched through Path


# ------------------------------------------------------------------------------------------------
# Crashes and hangs that must be one-line errors
# ------------------------------------------------------------------------------------------------

def _jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose SOF header claims `width` x `height`."""
    import cv2

    ok, data = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    raw = bytearray(data.tobytes())
    at = raw.index(b"\xff\xc0")
    raw[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(raw)


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width` x `height` RGBA (one tiny IDAT)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 8)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [65000, 100000 % 65536 + 30000])
def test_a_frame_declaring_a_huge_size_is_refused_before_decoding(tmp_path, side):
    from occmer.errors import FrameReadError
    from occmer.frames import read_frame

    path = tmp_path / "img1.jpg"
    path.write_bytes(_jpeg_declaring(side, side))
    with pytest.raises(FrameReadError, match=f"{side}x{side}"):
        read_frame(path, "sub01/EP01", 1)


def test_a_huge_frame_in_a_database_is_a_clean_error(tmp_path, small_demo_root):
    root = tmp_path / "db"
    shutil.copytree(small_demo_root, root)
    for frame in sorted(root.glob("sub*/*/img*.jpg")):
        frame.write_bytes(_jpeg_declaring(65000, 65000))
    result = invoke(*synth_args(root, tmp_path / "x.h5"))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "65000x65000" in result.output and "please report" not in result.output


@pytest.mark.parametrize("side", [65000, 100000])
def test_a_template_png_declaring_a_huge_size_is_refused(tmp_path, small_demo_root, side):
    path = _template(tmp_path / "tpl")
    (tmp_path / "tpl" / "patch.png").write_bytes(_png_declaring(side, side))
    result = invoke("preview", "--db", "demo", "--root", small_demo_root, "--quiet", "--mask", f"custom:{path}", "--out", tmp_path / "s.png")
    assert_one_line_error(result, 2, "patch.png", str(side))


def test_a_template_json_nested_deeply_is_refused(tmp_path, small_demo_root):
    path = _template(tmp_path / "tpl")
    path.write_text("[" * 100_000 + "]" * 100_000)
    result = invoke("preview", "--db", "demo", "--root", small_demo_root, "--quiet", "--mask", f"custom:{path}", "--out", tmp_path / "s.png")
    assert_one_line_error(result, 2, path, "nested")


def test_a_nul_byte_in_a_template_image_name_is_refused(tmp_path, small_demo_root):
    path = _template(tmp_path / "tpl", {**GOOD_TEMPLATE, "image": "patch\u0000.png"})
    result = invoke("preview", "--db", "demo", "--root", small_demo_root, "--quiet", "--mask", f"custom:{path}", "--out", tmp_path / "s.png")
    assert_one_line_error(result, 2, path, "image")


def test_custom_mask_without_a_path_is_refused(tmp_path, small_demo_root):
    result = invoke(*synth_args(small_demo_root, tmp_path / "x.h5")[:-1] + ["--mask", "custom:", "--no-progress"])
    assert_one_line_error(result, 2, "custom:PATH.json")


def _export_file(tmp_path: Path, block_file: Path) -> Path:
    from occmer.features import add_features, parse_feature_spec

    tmp_path.mkdir(parents=True, exist_ok=True)
    file = tmp_path / "f.h5"
    shutil.copy(block_file, file)
    add_features(file, [parse_feature_spec("farneback:28")], progress=False)
    assert invoke("splits", file).exit_code == 0
    return file


def test_export_never_replaces_the_current_folder(tmp_path, block_file, monkeypatch):
    file = _export_file(tmp_path / "data", block_file)
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("mine")
    monkeypatch.chdir(work)
    result = invoke("export", file, ".", "--layout", "npy", "--overwrite")
    assert_one_line_error(result, 2, "current folder")
    assert (work / "keep.txt").read_text() == "mine"
    result = invoke("export", file, tmp_path / "data", "--layout", "npy", "--overwrite")
    assert_one_line_error(result, 2, "input")


def test_export_under_a_regular_file_is_refused_naming_it(tmp_path, block_file):
    file = _export_file(tmp_path / "data", block_file)
    (tmp_path / "plain").write_text("x")
    result = invoke("export", file, tmp_path / "plain" / "out", "--layout", "npy")
    assert_one_line_error(result, 2, "is a file, not a folder", tmp_path / "plain")


def test_export_on_a_full_disk_names_the_folder_and_leaves_nothing(tmp_path, block_file, monkeypatch):
    import occmer.export

    file = _export_file(tmp_path / "data", block_file)

    def full(path, data):
        raise OSError(28, os.strerror(28), str(path))

    monkeypatch.setattr(occmer.export, "_write", full)
    monkeypatch.setattr(np, "save", lambda path, *a, **k: full(path, None))
    out = tmp_path / "out"
    result = invoke("export", file, out, "--layout", "npy")
    assert_one_line_error(result, 2, "disk is full", "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_mathtext_label_is_drawn_as_text(tmp_path):
    from occmer.bench.plots import FigureFile, confusion_grid_figure, save_figure

    classes = ["sur$\\undefinedmacro{x}$prise", "fear"]
    fig = confusion_grid_figure("m", [("clean", np.array([[1, 0], [0, 1]]), classes)])
    save_figure(fig, FigureFile("c", "t", "c", "confusion", tmp_path))
    assert (tmp_path / "c.png").stat().st_size > 0


@pytest.mark.parametrize("address", ["127.0.0.1:99999", "127.0.0.1:0", "ray://10.0.0.1:70000", "host:port"])
def test_an_invalid_ray_port_is_refused_at_once(tmp_path, small_demo_root, address):
    args = synth_args(small_demo_root, tmp_path / "x.h5", "--executor", "ray", "--ray-address", address)
    proc = subprocess.run([sys.executable, "-m", "occmer", *map(str, args)], capture_output=True, text=True,
                          timeout=60)  # a hang fails here
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "--ray-address" in lines[0] and address in lines[0] and "port" in lines[0], lines[0]


# ------------------------------------------------------------------------------------------------
# Silent gaps
# ------------------------------------------------------------------------------------------------

def test_a_non_finite_checkpoint_is_refused(tmp_path):
    from occmer.bench.checkpoints import load_into
    from occmer.models import build_model

    model = build_model("ststnet", 3, 3, seed=0)
    state = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    path = tmp_path / "sub01.pth"
    torch.save(state, path)
    with pytest.raises(BenchError, match="not finite"):
        load_into(build_model("ststnet", 3, 3, seed=0), path)


def test_a_checkpoint_linked_out_of_weights_is_named(tmp_path):
    from occmer.bench.checkpoints import find_checkpoint

    weights = tmp_path / "weights"
    weights.mkdir()
    (tmp_path / "elsewhere.pth").write_bytes(b"x")
    os.symlink(tmp_path / "elsewhere.pth", weights / "sub01.pth")
    with pytest.raises(BenchError, match="outside"):
        find_checkpoint(weights, "casme2/sub01")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> Path:
    """A finished one-epoch bench run on a tiny file (four subjects, one fold each)."""
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from test_bench_support import write_tiny

    root = tmp_path_factory.mktemp("bench")
    out = root / "run"
    result = invoke("bench", "ststnet", "--data", write_tiny(root / "clean.h5"), "--seeds", "1", "--epochs", "1",
                    "--batch-size", "4", "--no-progress", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def _run(tmp_path: Path, bench_run: Path) -> tuple[Path, list[Path]]:
    run = tmp_path / "run"
    shutil.copytree(bench_run, run)
    return run, sorted((run / "folds").rglob("*.json"))


def _edit(path: Path, **changes: object) -> None:
    record = json.loads(path.read_text())
    record.update(changes)
    path.write_text(json.dumps(record))


def test_report_reads_a_sound_run(tmp_path, bench_run):
    run, _ = _run(tmp_path, bench_run)
    result = invoke("report", run)
    assert result.exit_code == 0, result.output


def test_report_refuses_a_fold_predicting_a_class_the_run_does_not_have(tmp_path, bench_run):
    run, files = _run(tmp_path, bench_run)
    record = json.loads(files[1].read_text())
    _edit(files[1], pred=["contempt"] * len(record["pred"]))
    assert_one_line_error(invoke("report", run), 2, files[1], "contempt")


def test_report_refuses_a_fold_holding_another_subjects_samples(tmp_path, bench_run):
    run, files = _run(tmp_path, bench_run)
    other = json.loads(files[0].read_text())
    _edit(files[1], **{k: other[k] for k in ("sample_id", "subject", "database", "true", "pred", "probabilities")})
    assert_one_line_error(invoke("report", run), 2, files[1], other["fold"])


def test_report_refuses_one_sample_scored_in_two_folds(tmp_path, bench_run):
    run, files = _run(tmp_path, bench_run)
    first, second = json.loads(files[0].read_text()), json.loads(files[1].read_text())
    _edit(files[1], sample_id=[first["sample_id"][0], *second["sample_id"][1:]])
    assert_one_line_error(invoke("report", run), 2, first["sample_id"][0], "two folds")


def test_report_names_a_garbage_fold_file(tmp_path, bench_run):
    run, files = _run(tmp_path, bench_run)
    files[1].write_bytes(b"\x00garbage{")
    assert_one_line_error(invoke("report", run), 2, files[1])


@pytest.mark.parametrize("anchors, warp, words", [
    ({"61": [15, 25], "291": [65, 25], "1": [1e300, 8]}, "affine", "far outside"),
    ({"61": [10, 10], "291": [40, 10], "1": [70, 10]}, "affine", "one line"),
    ({"61": [10, 10], "291": [40, 10], "1": [70, 10], "13": [20, 10]}, "perspective", "one line"),
    ({"61": [10, 10], "291": [40, 10], "1": [70, 10]}, "tps", "one line"),
    ({"61": [15, 25], "291": [15.00001, 25], "1": [40, 8]}, "affine", "apart"),
])
def test_degenerate_template_anchors_are_refused(tmp_path, anchors, warp, words):
    from occmer.occluders.templates import load_template

    path = _template(tmp_path / "tpl", {"image": "patch.png", "warp": warp, "anchors": anchors})
    with pytest.raises(TemplateError, match=words) as caught:
        load_template(path)
    assert str(path) in str(caught.value) and "anchor" in str(caught.value)


def test_hard_linked_frames_are_documented_as_not_defended():
    text = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    assert "Not defended: frames hard-linked between clips." in " ".join(text.split())


# ------------------------------------------------------------------------------------------------
# Messages that name the right cause and path
# ------------------------------------------------------------------------------------------------

def test_splits_beside_a_running_writer_names_the_holder(tmp_path, block_file):
    from occmer.outputs import output_lock

    file = tmp_path / "f.h5"
    shutil.copy(block_file, file)
    before = digest(file)
    with output_lock(file, "occmer features"):
        result = invoke("splits", file, "--overwrite")
    assert_one_line_error(result, 2, "being written by PID", str(os.getpid()))
    assert digest(file) == before


def test_a_feature_spec_with_size_zero_names_the_spec(tmp_path, small_demo_root):
    result = invoke(*synth_args(small_demo_root, tmp_path / "x.h5", "--features", "tvl1:0"))
    line = assert_one_line_error(result, 2, "tvl1:0")
    assert "--size" not in line


def test_a_bad_recorded_size_is_named(tmp_path, block_file, small_demo_root):
    file = _with_settings(block_file, tmp_path / "f.h5", size="big")
    page = tmp_path / "p.html"
    assert invoke("inspect", file, "--html", "--quiet", "--root", small_demo_root, "--out", page).exit_code == 0
    text = page.read_text()
    assert "not supported between" not in text and "settings.size" in text


def test_resume_over_a_truncated_shard_names_it(tmp_path, small_demo_root, monkeypatch):
    import occmer.pipeline

    out = tmp_path / "x.h5"
    with monkeypatch.context() as patch:
        patch.setattr(occmer.pipeline, "assemble", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
        assert invoke(*synth_args(small_demo_root, out)).exit_code == 130
    shard = sorted((tmp_path / "x.h5.parts").rglob("*.h5"))[0]
    shard.write_bytes(shard.read_bytes()[:200])
    result = invoke(*synth_args(small_demo_root, out, "--resume"))
    assert_one_line_error(result, 2, shard.name, "--resume")


def test_a_killed_demo_build_leaves_nothing_behind_on_the_next_run(tmp_path):
    stale = tmp_path / ".demo.tmp-999999999-abc"  # its builder (no such PID) was killed
    (stale / "sub01").mkdir(parents=True)
    result = invoke("demo-db", tmp_path / "demo", "--subjects", "2", "--clips-per-subject", "1", "--frames", "12",
                    "--size", "128", "--no-progress")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
