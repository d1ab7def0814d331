"""CausalNet's four maps from occmer's own flow (flow4_*) and HTNet/CausalNet in the demo bench."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import occmer.bench.demo as demo_module
from occmer.cli import cli
from occmer.errors import ConfigError
from occmer.features import read_features
from occmer.features.maps import direction_map, direction_planes, map_channel_names, minmax_255
from occmer.features.spec import FlowSpec, parse_feature_spec

TINY = ["--batch-size", "4", "--no-progress", "--no-html", "--max-folds", "1", "--epochs", "1"]


@pytest.fixture(scope="module")
def maps_file(tmp_path_factory, block_file) -> Path:
    """The small synthesized demo (block occluder) with flow_tvl1_28 and its four maps, via the CLI."""
    path = tmp_path_factory.mktemp("maps") / "block.h5"
    shutil.copy(block_file, path)
    for extra in ([], ["--four-maps"]):
        result = CliRunner().invoke(cli, ["features", str(path), "--size", "28", "--no-progress", *extra])
        assert result.exit_code == 0, result.output
    return path


def test_direction_map_colours_the_angle_of_u_and_v():
    u, v = np.array([[200.0, 100.0, 0.0]]), np.array([[0.0, 100.0, 200.0]])
    colour = direction_map(u, v)  # 0, 45 and 90 degrees: red, orange (hue 22), yellow-green (hue 45)
    assert colour["u"].tolist() == [[255, 255, 127]] and colour["strain"].tolist() == [[0, 0, 0]]
    assert colour["v"][0, 0] == 0 and 0 < colour["v"][0, 1] < 255 and colour["v"][0, 2] == 255


def test_four_map_spec_names_and_refusals():
    spec = parse_feature_spec("tvl1:28:maps4")
    assert spec.four_maps and spec.feature_name == "flow4_tvl1_28" and spec.channels == map_channel_names(
        ["u", "v", "strain"])
    assert spec.identity()["maps"] == "maps4" and "maps" not in FlowSpec("tvl1", 28).identity()
    with pytest.raises(ConfigError, match="no diff"):
        FlowSpec("tvl1", 28, diff=True, four_maps=True)


def test_four_maps_from_the_clip_frames(maps_file):
    maps, flow = read_features(maps_file, "flow4_tvl1_28"), read_features(maps_file, "flow_tvl1_28")
    assert maps.data.shape == (9, 12, 28, 28) and maps.channels == map_channel_names(["u", "v", "strain"])
    assert maps.attrs["normalisation"] == "minmax-per-channel" and "offset" in maps.attrs["frame_pair"]
    np.testing.assert_allclose(maps.data[:, :3], np.stack([minmax_255(x) for x in flow.data]), atol=1e-4)
    assert not np.allclose(maps.data[:, 3:6], maps.data[:, :3])  # apex->offset is another flow
    for x in maps.data:
        np.testing.assert_array_equal(x[6:9], direction_planes(x[0:3], ["u", "v", "strain"]))
        np.testing.assert_array_equal(x[9:12], direction_planes(x[3:6], ["u", "v", "strain"]))
    assert maps.data.min() >= 0 and maps.data.max() <= 255
    np.testing.assert_array_equal(maps.occlusion >= flow.occlusion, True)  # onset, apex and offset alpha


@pytest.mark.parametrize("model, asked", [("causalnet", ("tvl1:28", "tvl1:28:maps4")), ("htnet", ("tvl1:28",))])
def test_the_demo_bench_trains_htnet_and_causalnet_at_28_px(model, asked, maps_file, tmp_path, monkeypatch):
    requested = []

    def condition(mask, **kwargs):
        requested.append(kwargs["features"])
        return maps_file

    monkeypatch.setattr(demo_module, "ensure_demo_condition", condition)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["bench", model, "--demo-masks", "none", "--hparam", "dim=8",
                                      "--protocol", "loso", "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output
    assert requested == [asked] and "flow_tvl1_28" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["plan"][f"{model}|clean"]["feature"] == ("flow4_tvl1_28" if model == "causalnet" else "flow_tvl1_28")
    record = json.loads(next((out / "folds").rglob("*.json")).read_text())
    if model == "htnet":
        assert record["points"]["train"] == "occmer mediapipe landmarks: onset frame"


def test_the_demo_size_suits_every_model_of_the_run(tmp_path):
    result = CliRunner().invoke(cli, ["bench", "htnet", "resnet18", "--out", str(tmp_path / "o"), *TINY])
    assert result.exit_code == 2 and "no one demo input size suits htnet, resnet18" in result.output
    result = CliRunner().invoke(cli, ["bench", "causalnet", "--demo-size", "32", "--out", str(tmp_path / "o"), *TINY])
    assert result.exit_code == 2 and "causalnet does not build at 32 px" in result.output
