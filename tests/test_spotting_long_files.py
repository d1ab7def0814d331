"""Spotting on long-video HDF5 files (issue 29): `occmer synthesize --db demo-long` (the long demo built
into the cache on first use), `occmer verify`, then `occmer spot --data FILE.h5`; and the file's videos
read for the task exactly as the long demo's folder gives them.

One tiny long demo (2 subjects x 10 s, 128 px) is built per module, in a private cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from occmer.cli import cli
from occmer.databases.long_video import get_long_database
from occmer.demo.long_video import PARAMS_ENV, cached_long_demo_params, ensure_long_demo, read_long_demo
from occmer.pipeline import SynthesisSettings, synthesize_long
from occmer.spotting.sources import read_long_video_file
from occmer.spotting.task import truth_intervals

TINY = "subjects=2,seconds=10,size=128,micro_per_minute=18,macro_per_minute=6"


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def tiny_cache(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("OCCMER_CACHE", str(cache))
    monkeypatch.setenv(PARAMS_ENV, TINY)


@pytest.fixture(scope="module")
def demo(cache: Path) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PARAMS_ENV, TINY)
        return ensure_long_demo(cache)


def test_cached_long_demo_reads_its_parameters_from_the_environment(demo: Path, cache: Path) -> None:
    params = cached_long_demo_params()
    assert (params.subjects, params.seconds, params.size) == (2, 10.0, 128)
    assert ensure_long_demo(cache) == demo  # cached: not built again
    assert [v.subject for v in read_long_demo(demo)] == ["s01", "s02"]


def test_synthesize_verify_spot_from_the_command_line(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "glasses.h5"
    runner = CliRunner()
    made = runner.invoke(cli, ["synthesize", "--db", "demo-long", "--mask", "glasses", "--size", "128",
                               "--color", "keep", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert "wrote" in made.output and out.is_file()
    checked = runner.invoke(cli, ["verify", str(out)])
    assert checked.exit_code == 0, checked.output
    spotted = runner.invoke(cli, ["spot", str(tmp_path / "spot"), "--data", str(out), "--kind", "micro"])
    assert spotted.exit_code == 0, spotted.output
    document = json.loads((tmp_path / "spot" / "spotting.json").read_text())
    assert document["data"] == str(out) and "micro" in document["scores"]["overall"]
    assert {f["subject"] for f in document["folds"]} == {"demo-long/s01", "demo-long/s02"}
    assert document["minutes"] == pytest.approx(2 * 10 / 60)
    videos = read_long_video_file(out)
    assert all(v.face_box is None for v in videos)  # aligned: the frames are face crops
    benched = runner.invoke(cli, ["bench", "--task", "spot", "--data", f"glasses={out}", "--out",
                                  str(tmp_path / "bench"), "--no-progress"])
    assert benched.exit_code == 0, benched.output
    metrics = json.loads((tmp_path / "bench" / "metrics.json").read_text())
    assert "glasses" in json.dumps(metrics) and (tmp_path / "bench" / "table.md").is_file()
    config = json.loads((tmp_path / "bench" / "config.json").read_text())
    assert config["settings"]["source"]["data"] == {"glasses": str(out)}
    twice = runner.invoke(cli, ["bench", "--task", "spot", "--data", f"a={out}", "--data", f"b={out}",
                                "--long-demo", str(demo), "--out", str(tmp_path / "b2")])
    assert twice.exit_code != 0 and "give one of them" in twice.output


def test_spotting_bench_refuses_files_of_other_videos(demo: Path) -> None:
    from dataclasses import replace

    from occmer.bench.spotting import SpotRequest
    from occmer.errors import BenchError

    videos = read_long_demo(demo)
    other = [replace(videos[0], events=videos[0].events[1:]), *videos[1:]]
    with pytest.raises(BenchError, match="other videos"):
        SpotRequest(task="spot", videos=videos, out=Path("unused"), conditions=("x",), stored={"x": other})


def test_spot_refuses_two_inputs(demo: Path, tmp_path: Path) -> None:
    (tmp_path / "x.h5").write_bytes(b"")
    result = CliRunner().invoke(cli, ["spot", str(tmp_path / "o"), "--data", str(tmp_path / "x.h5"),
                                      "--long-demo", str(demo)])
    assert result.exit_code != 0 and "pass one of them" in result.output


def test_a_clean_unaligned_file_gives_the_demo_s_frames_truth_and_box(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "clean.h5"
    videos = get_long_database("demo-long", demo).scan().videos
    settings = SynthesisSettings(database="demo-long", mask="none", align=False, color="keep")
    synthesize_long(settings, videos, out, progress=False)
    from_file = read_long_video_file(out, block=100)  # blocks that do not divide the 300 frames
    from_folder = read_long_demo(demo)
    assert [v.video for v in from_file] == ["demo-long_s01", "demo-long_s02"]
    for file_video, folder_video in zip(from_file, from_folder, strict=True):
        assert file_video.count == folder_video.count == 300 and file_video.first_frame == 0
        assert file_video.fps == folder_video.fps and file_video.database == "demo-long"
        assert np.array_equal(np.stack(list(file_video.frames())), np.stack(list(folder_video.frames())))
        same = lambda intervals: [(i.onset, i.offset, i.kind, i.emotion) for i in intervals]  # noqa: E731
        assert same(truth_intervals(file_video)) == same(truth_intervals(folder_video))
        assert np.abs(np.subtract(file_video.face_box, folder_video.face_box)).max() <= 8
