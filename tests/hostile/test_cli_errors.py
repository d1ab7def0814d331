"""The CLI catches everything: one line, exit 2 for what the user can fix, exit 3 for a bug,
a traceback only with --debug; full and read-only disks are errors that say so."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
from cli_checks import assert_one_line_error, digest, invoke, synth_args

import occmer
import occmer.bench.report
import occmer.outputs
import occmer.pages.contact_sheet


def _bench_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "folds").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"settings": {}, "conditions": {}, "models": [], "plan": {}}))
    return run


def test_an_unexpected_exception_is_one_line_exit_3_naming_command_and_input(tmp_path, monkeypatch):
    run = _bench_dir(tmp_path)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(occmer.bench.report, "render", broken)
    line = assert_one_line_error(invoke("report", run), 3, "occmer report", run, "please report this with --debug")
    assert "ZeroDivisionError" in line
    debug = invoke("--debug", "report", run)
    assert isinstance(debug.exception, ZeroDivisionError)


@pytest.mark.parametrize("content", ["{bad json", "[1, 2]", "\xff\xfe not utf-8"])
def test_report_on_a_broken_config_names_the_file(tmp_path, content):
    run = _bench_dir(tmp_path)
    (run / "config.json").write_bytes(content.encode("latin-1"))
    assert_one_line_error(invoke("report", run), 2, run / "config.json")


@pytest.mark.parametrize("record", [[1, 2], {"model": "rrrn"}, {"model": 1, "condition": "clean"}])
def test_report_on_a_broken_fold_file_names_the_file(tmp_path, record):
    run = _bench_dir(tmp_path)
    fold = run / "folds" / "rrrn" / "clean" / "seed0" / "sub01.json"
    fold.parent.mkdir(parents=True)
    fold.write_text(json.dumps(record))
    assert_one_line_error(invoke("report", run), 2, fold)


def test_usage_errors_are_one_line(block_file):
    assert_one_line_error(invoke("features", block_file, "--workers", "x"), 2, "--workers")
    assert_one_line_error(invoke("synthesize", "--no-such-flag"), 2, "--no-such-flag")
    assert_one_line_error(invoke("no-such-command"), 2, "no-such-command")


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"),
                                         (errno.EACCES, "permission denied")])
def test_a_write_failure_says_so_and_leaves_nothing(tmp_path, block_file, monkeypatch, code, words):
    def failing(sheet, path):
        Path(path).write_bytes(b"half a png")
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(occmer.pages.contact_sheet, "save_sheet", failing)
    out = tmp_path / "sheet.png"
    assert_one_line_error(invoke("preview", "--from", block_file, "--out", out, "--n", "1"), 2, words, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "no output, temporary file or lock is left"


def test_an_out_under_a_regular_file_is_refused(tmp_path, small_demo_root, block_file):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    under = blocker / "sub" / "x.h5"
    assert_one_line_error(invoke(*synth_args(small_demo_root, under)), 2, blocker, "not a folder")
    assert_one_line_error(invoke("preview", "--from", block_file, "--out", under), 2, blocker)
    assert_one_line_error(invoke("demo-db", under), 2, blocker)
    assert_one_line_error(invoke("bench", "ststnet", "--out", under, "--no-progress"), 2, blocker)
    assert blocker.read_text() == "not a folder"


def test_a_read_only_folder_is_refused_before_any_work(tmp_path, small_demo_root, monkeypatch):
    monkeypatch.setattr(occmer.outputs.os, "access", lambda path, mode: False)
    monkeypatch.setattr(occmer.outputs, "_read_only_fs", lambda path: True)
    out = tmp_path / "x.h5"
    assert_one_line_error(invoke(*synth_args(small_demo_root, out)), 2, "read-only")
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_folder_without_write_permission_is_refused(tmp_path, block_file):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert_one_line_error(invoke("preview", "--from", block_file, "--out", locked / "x.png"), 2,
                              "permission denied")
    finally:
        locked.chmod(0o755)


def _run_limited(args: list[object], limit: int, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m occmer ARGS` with a file-size limit: the kernel refuses bigger writes (EFBIG),
    which is what a full disk does to a writer (ENOSPC) without needing one."""

    def set_limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONPATH": str(Path(occmer.__file__).parents[1])}
    return subprocess.run([sys.executable, "-m", "occmer", *map(str, args)], preexec_fn=set_limit, cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def _assert_clean_exit(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and all(w in last for w in words), last


@pytest.mark.parametrize("limit, words", [
    (40_000, "disk is full"),  # the first shard does not fit
    pytest.param(150_000, "file-size limit", marks=pytest.mark.slow),  # the shards fit, the assembled file not
])
def test_synthesize_on_a_full_disk_fails_cleanly_and_marks_nothing_complete(tmp_path, small_demo_root, limit, words):
    out = tmp_path / "x.h5"
    proc = _run_limited(synth_args(small_demo_root, out)[:-1], limit, tmp_path)  # progress bar off
    _assert_clean_exit(proc, words)
    assert not out.exists()
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        with h5py.File(partial, "r") as f:
            assert not f.attrs.get("complete")


def test_features_on_a_full_disk_leave_the_file_untouched(tmp_path, block_file):
    import shutil

    copy = tmp_path / "block.h5"
    shutil.copy(block_file, copy)
    before = digest(copy)
    proc = _run_limited(["features", copy, "--flow", "farneback", "--size", "112", "--no-progress"],
                        copy.stat().st_size + 1000, tmp_path)
    _assert_clean_exit(proc, "file-size limit", str(copy))
    assert digest(copy) == before

