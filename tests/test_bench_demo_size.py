"""The demo bench (`occmer bench` with no --data) trains every model at one input size, says so
and records it; the demo build itself is replaced by a tiny file (the real one takes minutes)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from test_bench_support import write_tiny

import occmer.bench.demo as demo_module
from occmer.cli import cli
from occmer.errors import ConfigError

TINY = ["--batch-size", "4", "--no-progress", "--no-html", "--max-folds", "1"]


def test_the_demo_bench_asks_every_model_for_32_px_flow(tmp_path, monkeypatch):
    asked = []

    def refuse(mask, **kwargs):
        asked.append((mask, kwargs["features"], kwargs["workers"], kwargs["face_size"]))
        raise ConfigError("stop here")

    monkeypatch.setattr(demo_module, "ensure_demo_condition", refuse)
    result = CliRunner().invoke(cli, ["bench", "rrrn", "ststnet", "--demo-workers", "2", "--out", str(tmp_path / "o"),
                                      *TINY])
    assert result.exit_code != 0 and "stop here" in result.output
    assert "faces at 112 px, every model trains on flow_tvl1_32, 20 epochs" in result.output
    assert asked == [("none", ("tvl1:32",), 2, 112)]  # one flow size for both models (rrrn's own is 112)


def test_the_demo_face_size_is_passed_on_keys_the_cache_and_is_checked(tmp_path, monkeypatch):
    asked = []

    def refuse(mask, **kwargs):
        asked.append(kwargs["face_size"])
        raise ConfigError("stop here")

    monkeypatch.setattr(demo_module, "ensure_demo_condition", refuse)
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--demo-face-size", "224", "--out", str(tmp_path / "o"),
                                      *TINY])
    assert "faces at 224 px" in result.output and asked == [224]
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--demo-face-size", "16", "--out", str(tmp_path / "o"),
                                      *TINY])
    assert result.exit_code == 2 and "--demo-face-size" in result.output
    params = {"subjects": 8}
    paths = {demo_module.condition_path("glasses", ("tvl1:32",), 0, tmp_path, params, size) for size in (112, 224)}
    assert len(paths) == 2  # a condition built at one face size is never read for another


def test_the_demo_size_is_recorded_and_checked(tmp_path, monkeypatch):
    tiny = write_tiny(tmp_path / "tiny.h5")  # flow_tvl1_28
    monkeypatch.setattr(demo_module, "ensure_demo_condition", lambda mask, **kwargs: tiny)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--demo-masks", "none", "--demo-size", "28",
                                      "--epochs", "1", "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["features"] == "flow_tvl1_28"
    assert config["plan"]["ststnet|clean"]["feature"] == "flow_tvl1_28"
    assert config["recipes"]["ststnet"]["epochs"] == 1  # --epochs beats the demo's 20
    result = CliRunner().invoke(cli, ["bench", "resnet18", "--demo-size", "16", "--out", str(tmp_path / "x"), *TINY])
    assert result.exit_code == 2 and "resnet18 needs inputs of at least 32 px" in result.output
