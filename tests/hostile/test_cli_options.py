"""Shared, validated options: every bad value is refused up front, in one line, before any
work (a negative seed used to fail after every clip; a negative flow window crashed OpenCV)."""

from __future__ import annotations

import click
import pytest
from cli_checks import assert_one_line_error, digest, invoke, synth_args

from occmer.cli import cli


@pytest.mark.parametrize("extra, words", [
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**32)], "--seed"),
    (["--seed", "1" * 40], "--seed"),
    (["--workers", "0"], "--workers"),
    (["--workers", "-1"], "--workers"),
    (["--workers", "1000"], "--workers"),
    (["--size", "0"], "--size"),
    (["--size", "100000"], "--size"),
    (["--coverage", "0"], "--coverage"),
    (["--coverage", "2"], "--coverage"),
    (["--coverage", "nan"], "--coverage"),
    (["--resume", "--overwrite"], "contradict"),
    (["--features", "farneback:28:winsize=-3"], "winsize"),
    (["--features", "dis:28:patch_size=0"], "patch_size"),
    (["--compression", "12"], "--compression"),
])
def test_synthesize_refuses_bad_values_before_any_work(tmp_path, small_demo_root, extra, words):
    out = tmp_path / "x.h5"
    assert_one_line_error(invoke(*synth_args(small_demo_root, out, *extra)), 2, words)
    assert not list(tmp_path.iterdir()), "nothing is written, not even the .parts folder"


@pytest.mark.parametrize("method, param, words", [
    ("farneback", "winsize=-3", "winsize"),  # SIGSEGV in OpenCV
    ("farneback", "pyr_scale=1", "pyr_scale"),
    ("farneback", "levels=inf", "levels"),
    ("dis", "patch_size=0", "patch_size"),  # SIGFPE in OpenCV
    ("dis", "patch_size=2", "patch_size"),  # heap corruption in OpenCV
    ("dis", "finest_scale=-1", "finest_scale"),
    ("dis", "patch_stride=20", "patch_stride"),
    ("tvl1", "nscales=0", "nscales"),
    ("tvl1", "median_filtering=4", "median_filtering"),
    ("tvl1", "tau=nan", "tau"),
])
def test_flow_parameters_are_checked_before_opencv_sees_them(block_file, method, param, words):
    before = digest(block_file)
    result = invoke("features", block_file, "--flow", method, "--flow-param", param, "--no-progress")
    assert_one_line_error(result, 2, words)
    assert digest(block_file) == before


@pytest.mark.parametrize("extra, words", [
    (["--workers", "0"], "--workers"),
    (["--workers", "1000"], "--workers"),
    (["--size", "0"], "--size"),
])
def test_features_refuses_bad_values(block_file, extra, words):
    assert_one_line_error(invoke("features", block_file, "--no-progress", *extra), 2, words)


@pytest.mark.parametrize("extra, words", [
    (["--lr", "nan"], "--lr"),
    (["--lr", "inf"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--lr", "-1"], "--lr"),
    (["--weight-decay", "nan"], "--weight-decay"),
    (["--hparam", "ststnet.dropout=abc"], "expects float"),
    (["--hparam", "dropout=2"], "dropout"),
    (["--hparam", "loss.margin=NaN"], "loss.margin"),
    (["--data", "clean="], "no FILE"),
    (["--data", "=x.h5"], "NAME"),
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**32 - 1), "--seeds", "2"], "largest seed"),
    (["--folds", "3/2"], "--folds"),  # used to be checked after the demo data was built
    (["--folds", "x"], "--folds"),
])
def test_bench_refuses_bad_values_before_training(tmp_path, extra, words):
    out = tmp_path / "bench"
    assert_one_line_error(invoke("bench", "ststnet", "--out", out, "--no-progress", *extra), 2, words)
    assert not out.exists()


def test_data_naming_a_folder_is_refused(tmp_path):
    assert_one_line_error(invoke("bench", "ststnet", "--data", f"clean={tmp_path}"), 2, str(tmp_path), "folder")


@pytest.mark.parametrize("extra, words", [(["--n", "0"], "--n"), (["--seed", "-5"], "--seed"),
                                          (["--thumb", "4"], "--thumb")])
def test_preview_refuses_bad_values(tmp_path, block_file, extra, words):
    result = invoke("preview", "--from", block_file, "--out", tmp_path / "x.png", *extra)
    assert_one_line_error(result, 2, words)


@pytest.mark.parametrize("extra, words", [(["--seed", "-1"], "--seed"), (["--frames", "100000000"], "--frames")])
def test_demo_db_refuses_bad_values(tmp_path, extra, words):
    assert_one_line_error(invoke("demo-db", tmp_path / "db", *extra), 2, words)
    assert not (tmp_path / "db").exists()


def test_models_refuses_absurd_sizes():
    assert_one_line_error(invoke("models", "--classes", "100000000"), 2, "--classes")


def _declaration(command: str, flag: str) -> tuple:
    option = next(p for p in cli.commands[command].params if isinstance(p, click.Option) and flag in p.opts)
    return type(option.type).__name__, repr(option.type), option.callback and option.callback.__qualname__


@pytest.mark.parametrize("flag, commands", [
    ("--seed", ["synthesize", "preview", "bench", "demo-db"]),
    ("--workers", ["synthesize", "features"]),
    ("--size", ["synthesize", "preview"]),
    ("--coverage", ["synthesize", "preview"]),
    ("--landmarks", ["synthesize", "preview"]),
])
def test_one_declaration_per_flag(flag, commands):
    """The same flag is checked the same way by every command that takes it."""
    declarations = {_declaration(c, flag) for c in commands}
    assert len(declarations) == 1, declarations


@pytest.mark.parametrize("seed", [-1, 2**32, 10**400, True, 1.5])
def test_the_library_refuses_the_seeds_the_cli_refuses(seed):
    from occmer.errors import ConfigError
    from occmer.pipeline import SynthesisSettings

    with pytest.raises(ConfigError, match="--seed"):
        SynthesisSettings(seed=seed)
