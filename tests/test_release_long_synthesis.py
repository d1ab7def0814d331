"""A release's long videos from the command line (issue 29): `occmer synthesize --db <release>-long`,
`occmer verify`, then `occmer bench --task spot --data`, on a fixture in each release's real layout
whose frames are the long demo's rendered face (tests/dbfixtures.py, `faces=True`).

The chain on CAS(ME)^2 (2 videos x 150 frames, 30 fps) runs by default, in about 10 s; on SAMM (2 x
1,000 frames at 200 fps, about 45 s) and CAS(ME)^3 part A (as CAS(ME)^2) with the `slow` marker. The
demo is rendered once per frame rate and process (`faced_videos`), so the adapter checks of the 30 fps
fixtures cost under a second each after the chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from occmer.cli import cli
from occmer.databases.long_video import get_long_database
from occmer.spotting.sources import read_long_video_file
from occmer.store.long_video import LongVideoFile
from tests.dbfixtures import FACED_FIRST_FRAME, faced_truth, faced_videos, release_fps, write_long_database

RELEASES = [
    pytest.param("casme2x-long", id="casme2x-long"),
    pytest.param("samm-long", id="samm-long", marks=pytest.mark.slow),
    pytest.param("casme3a-long", id="casme3a-long", marks=pytest.mark.slow),
]


def _run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, f"occmer {' '.join(args)}:\n{result.output}"
    return result


@pytest.mark.parametrize("name", RELEASES)
def test_release_long_videos_synthesize_verify_and_bench(name: str, tmp_path: Path) -> None:
    root = write_long_database(name, tmp_path / "release", faces=True)
    out = tmp_path / "glasses.h5"
    made = _run("synthesize", "--db", name, "--root", str(root), "--mask", "glasses", "--out", str(out))
    videos = faced_videos(release_fps(name))
    assert f"{len(videos)} long videos" in made.output and "0 frames without a face" in made.output
    assert f"{out}: ok" in _run("verify", str(out)).output
    with LongVideoFile.open(out) as f:
        ids = sorted(f.video_ids)
        stored = [[(i.onset, i.apex, i.offset, i.kind) for i in f.intervals(v)] for v in ids]
        numbers = [f.frame_numbers(v) for v in ids]
    assert stored == faced_truth(name)  # the release's absolute frame numbers, not 0-based positions
    shown = _run("inspect", str(out)).output
    assert name in shown and all(video_id in shown for video_id in ids)
    page = tmp_path / "page.html"
    assert str(page) in _run("inspect", str(out), "--html", "--out", str(page)).output
    assert page.stat().st_size > 0 and "spotted" in page.read_text()
    for video, stored_numbers in zip(videos, numbers, strict=True):
        assert list(stored_numbers) == list(video.numbers) and stored_numbers[0] == FACED_FIRST_FRAME
    spotted = read_long_video_file(out)
    assert [v.first_frame for v in spotted] == [FACED_FIRST_FRAME] * len(videos)
    assert {v.fps for v in spotted} == {release_fps(name)}

    bench = tmp_path / "bench"
    _run("bench", "--task", "spot", "--data", f"glasses={out}", "--out", str(bench), "--no-progress", "--no-html")
    scores = json.loads((bench / "metrics.json").read_text())["conditions"]["glasses"]["spotting"]["overall"]
    truth = [kind for video in faced_truth(name) for *_, kind in video]
    for kind in ("micro", "macro"):
        assert scores[kind]["tp"] + scores[kind]["fn"] == truth.count(kind), kind
    assert scores["overall"]["tp"] > 0, "the spotter should find some of the demo's expressions"


@pytest.mark.parametrize("name", [pytest.param("casme2x-long"), pytest.param("casme3a-long"),
                                  pytest.param("samm-long", marks=pytest.mark.slow)])
def test_faced_fixture_reads_as_the_release(name: str, tmp_path: Path) -> None:
    """The faced fixture is a valid release: the adapter lists every frame and the demo's expressions."""
    scan = get_long_database(name, write_long_database(name, tmp_path, faces=True), strict=True).scan()
    videos = sorted(scan.videos, key=lambda v: v.video_id)
    assert [[(i.onset, i.apex, i.offset, i.kind) for i in v.intervals] for v in videos] == faced_truth(name)
    assert all([n for n, _ in v.frames] == list(f.numbers) for v, f in zip(videos, faced_videos(release_fps(name)),
                                                                          strict=True))
