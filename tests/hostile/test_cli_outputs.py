"""Outputs never replace inputs, an existing file is replaced only with --overwrite, and two
runs on one output are serialised by OUT.lock (naming the holder's PID)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_checks import assert_one_line_error, digest, invoke, synth_args

import occmer


def _sheet(root: Path) -> Path:
    return next(root.glob("CASME2-coding-*.xlsx"))


@pytest.mark.parametrize("pick", [
    _sheet,
    lambda root: root / "demo.json",
    lambda root: sorted(root.rglob("*.jpg"))[0],
])
def test_synthesize_never_writes_over_an_input_even_with_overwrite(small_demo_root, pick):
    target = pick(small_demo_root)
    before = digest(target)
    result = invoke(*synth_args(small_demo_root, target, "--overwrite"))
    assert_one_line_error(result, 2, "input", target.name)
    assert digest(target) == before
    assert not target.with_name(target.name + ".parts").exists()
    assert not target.with_name(target.name + ".lock").exists()


def test_synthesize_sees_through_links_to_an_input(tmp_path, small_demo_root):
    sheet = _sheet(small_demo_root)
    before = digest(sheet)
    (tmp_path / "soft.h5").symlink_to(sheet)
    os.link(sheet, tmp_path / "hard.h5")
    for name in ("soft.h5", "hard.h5"):
        assert_one_line_error(invoke(*synth_args(small_demo_root, tmp_path / name, "--overwrite")), 2, "input")
    assert digest(sheet) == before


def test_synthesize_never_writes_over_its_custom_template(tmp_path, small_demo_root):
    template = tmp_path / "mask.json"
    template.write_text("{}")
    result = invoke(*synth_args(small_demo_root, template, "--overwrite"), "--mask", f"custom:{template}")
    assert_one_line_error(result, 2, "input", template.name)
    assert template.read_text() == "{}"


def test_preview_never_replaces_the_file_it_reads(tmp_path, block_file):
    before = digest(block_file)
    for extra in ([], ["--overwrite"]):
        assert_one_line_error(invoke("preview", "--from", block_file, "--out", block_file, *extra), 2, "input")
    link = tmp_path / "link.png"
    link.symlink_to(block_file)
    assert_one_line_error(invoke("preview", "--from", block_file, "--out", link, "--overwrite"), 2, "input")
    assert digest(block_file) == before


def test_preview_replaces_an_existing_file_only_with_overwrite(tmp_path, block_file):
    out = tmp_path / "sheet.png"
    out.write_bytes(b"precious")
    assert_one_line_error(invoke("preview", "--from", block_file, "--out", out, "--n", "1"), 2, "--overwrite")
    assert out.read_bytes() == b"precious"
    result = invoke("preview", "--from", block_file, "--out", out, "--n", "1", "--overwrite")
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.png"], "no lock or temporary file is left"


def _hold_lock(out: Path, seconds: float = 120) -> subprocess.Popen:
    code = textwrap.dedent("""
        import sys, time
        from occmer.outputs import output_lock
        with output_lock(sys.argv[1], "holder"):
            print("locked", flush=True)
            time.sleep(float(sys.argv[2]))
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(occmer.__file__).parents[1])}
    holder = subprocess.Popen([sys.executable, "-c", code, str(out), str(seconds)], stdout=subprocess.PIPE,
                              text=True, env=env)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_run_on_a_locked_output_is_refused_naming_the_holder(tmp_path, small_demo_root, block_file):
    out = tmp_path / "x.h5"
    holder = _hold_lock(out)
    try:
        result = invoke(*synth_args(small_demo_root, out))
        assert_one_line_error(result, 2, f"PID {holder.pid}", "x.h5.lock")
        assert not out.with_name("x.h5.parts").exists()
        png = tmp_path / "x.png"
        holder_png = _hold_lock(png)
        try:
            assert_one_line_error(invoke("preview", "--from", block_file, "--out", png), 2, f"PID {holder_png.pid}")
        finally:
            holder_png.kill()
            holder_png.wait()
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_message(tmp_path, block_file):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "sheet.png"
    lock = tmp_path / "sheet.png.lock"
    lock.write_text(f"pid={dead.pid}\nhost=\ncommand=occmer preview\n")
    result = invoke("preview", "--from", block_file, "--out", out, "--n", "1")
    assert result.exit_code == 0, result.output
    assert f"took over the stale lock {lock} of PID {dead.pid}" in result.output
    assert out.exists() and not lock.exists()


def test_features_lock_the_file_they_write(block_file):
    holder = _hold_lock(block_file)
    before = digest(block_file)
    try:
        result = invoke("features", block_file, "--flow", "farneback", "--size", "8", "--no-progress")
        assert_one_line_error(result, 2, f"PID {holder.pid}")
    finally:
        holder.kill()
        holder.wait()
    assert digest(block_file) == before


def test_a_shared_cache_waits_for_the_run_that_holds_its_lock(tmp_path):
    from occmer.outputs import output_lock

    out = tmp_path / "condition.h5"
    holder = _hold_lock(out, seconds=1)
    said = []
    start = time.monotonic()
    with output_lock(out, "second", echo=said.append, wait=True) as lock:
        assert time.monotonic() - start > 0.5, "the lock was taken while its holder held it"
        assert f"pid={os.getpid()}" in lock.read_text()
    holder.wait()
    assert said and f"waiting for PID {holder.pid}" in said[0]
    assert not out.with_name("condition.h5.lock").exists()


def test_synthesize_never_writes_over_a_landmark_file(tmp_path, small_demo_root):
    folder = tmp_path / "landmarks"
    folder.mkdir()
    landmark = folder / "demo_sub01_EP01_01.json"
    landmark.write_text("[]")
    result = invoke(*synth_args(small_demo_root, landmark, "--overwrite"), "--landmarks", f"file:{folder}")
    assert_one_line_error(result, 2, "input", landmark.name)
    assert landmark.read_text() == "[]"
