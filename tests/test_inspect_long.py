"""`occmer inspect` on long-video files (issue 29): the text summary, the page with the true and the
spotted intervals (the baseline on the shown video, or --spots from an `occmer spot` run, checked as
untrusted input), the options that belong to clip files refused, and `occmer verify` on a damaged file.

One tiny long demo (2 subjects x 10 s, 128 px) synthesized with glasses once per module."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner
from html_checks import decode_image, parse_page

from occmer.cli import cli
from occmer.demo.long_video import PARAMS_ENV
from occmer.spotting.page import PAGE_STEP, page_stretch, stretch_frames
from occmer.spotting.sources import read_long_video_file
from occmer.spotting.task import truth_intervals
from occmer.store.inspect import summarize
from occmer.store.long_video import SEGMENT_FRAMES, LongVideoFile

TINY = "subjects=2,seconds=10,size=128,micro_per_minute=18,macro_per_minute=6"
FIRST, SECOND = "demo-long_s01", "demo-long_s02"


@pytest.fixture(scope="module")
def long_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inspect-long")
    out = folder / "long_glasses.h5"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OCCMER_CACHE", str(folder / "cache"))
        patch.setenv(PARAMS_ENV, TINY)
        made = CliRunner().invoke(cli, ["synthesize", "--db", "demo-long", "--mask", "glasses", "--size", "128",
                                        "--out", str(out), "--no-progress"])
    assert made.exit_code == 0, made.output
    return out


def run(*args: str):
    return CliRunner().invoke(cli, ["inspect", *args, "--no-progress"])


def _truth(path: Path, video_id: str):
    with LongVideoFile.open(path) as f:
        return f.intervals(video_id)


def test_summary_lists_provenance_videos_and_totals(long_file: Path) -> None:
    text = summarize(long_file)
    micro = {v: sum(i.kind == "micro" for i in _truth(long_file, v)) for v in (FIRST, SECOND)}
    macro = {v: sum(i.kind == "macro" for i in _truth(long_file, v)) for v in (FIRST, SECOND)}
    assert "database: demo-long" in text and "occluder: glasses" in text and "written by occmer" in text
    assert "settings: align=True" in text and "mask=glasses" in text
    for video, subject in ((FIRST, "demo-long/s01"), (SECOND, "demo-long/s02")):
        assert f"{video}: subject {subject}, 300 frames at 30 fps (10.0 s), 128x128" in text
        assert f"intervals: micro {micro[video]}, macro {macro[video]}" in text
    assert re.search(r"face track: tracked \d+, placed 1, lost \d+, reacquired \d+", text)
    assert (f"total: 2 videos, 2 subjects, 600 frames (20.0 s = 0.3 min), intervals micro {sum(micro.values())} "
            f"macro {sum(macro.values())}, placements 2") in text
    assert text.endswith("every video complete")
    assert run(str(long_file)).output.strip() == text


def _titles(page: str, outcome: str) -> list[str]:
    return re.findall(rf"<title>({outcome} [^<]*)</title>", page)


def test_page_marks_the_true_and_the_baseline_s_intervals(long_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    result = run(str(long_file), "--html", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and "total: 2 videos" in result.output
    text = out.read_text()
    structure = parse_page(text)
    assert not structure.external and structure.title.startswith(f"occmer spotting: {FIRST}")
    assert all(decode_image(image["src"]).size[0] == 128 for image in structure.images)
    truth = {(i.onset, i.offset) for i in _truth(long_file, FIRST)}
    marked = {tuple(map(int, t.split()[1].split(".."))) for o in ("TP", "FN") for t in _titles(text, o)
              if " IoU " not in t}
    assert marked == truth  # every true interval on the truth row, none other
    assert _titles(text, "FP") or any(" IoU " in t for t in _titles(text, "TP"))  # the spotter spotted something
    assert "k = (N - 1) / 2" in text and "not tuned" in text and "p: the spotter&#x27;s default" in text
    player = json.loads(re.search(r'<script type="application/json" id="frames">(.*?)</script>', text).group(1))
    assert len(player["uris"]) == 300 // PAGE_STEP  # the video is shorter than the 20 s stretch
    assert run(str(long_file), "--html", "--out", str(out)).exit_code != 0  # no overwrite without --overwrite


def _spots(folder: Path, spotted: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spotting.json").write_text(json.dumps({"task": "spot", "data": "long_glasses.h5", "spotted": spotted}))
    return folder


def test_spots_from_a_spot_run_are_marked(long_file: Path, tmp_path: Path) -> None:
    true = _truth(long_file, SECOND)[0]
    spots = _spots(tmp_path / "spot", [
        {"video": SECOND, "onset": true.onset, "offset": true.offset, "kind": true.kind, "emotion": ""},
        {"video": SECOND, "onset": 280, "offset": 290, "kind": "micro"},
        {"video": FIRST, "onset": 10, "offset": 20, "kind": "micro"},  # another video: not on this page
    ])
    out = tmp_path / "spots.html"
    result = run(str(long_file), "--html", "--video", SECOND, "--spots", str(spots), "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert f"TP {true.onset}..{true.offset} {true.kind} IoU 1.00" in _titles(text, "TP")
    assert _titles(text, "FP") == ["FP 280..290 micro"]
    assert "spotting.json (2 on this video)" in text and "not tuned" not in text
    same = run(str(long_file), "--html", "--video", SECOND, "--spots", str(spots / "spotting.json"),
               "--out", str(tmp_path / "b.html"))
    assert same.exit_code == 0 and (tmp_path / "b.html").read_text().count("<title>FP") == 1


@pytest.mark.parametrize("content, expected", [
    ("{not json", "not JSON"),
    (json.dumps({"spotted": {"video": FIRST}}), "field 'spotted' missing or not a list"),
    (json.dumps({"spotted": ["x"]}), "spotted[0] must be an object"),
    (json.dumps({"spotted": [{"video": FIRST, "onset": "3", "offset": 9, "kind": "micro"}]}), "spotted[0].onset must be an integer"),
    (json.dumps({"spotted": [{"video": FIRST, "onset": 3, "offset": True, "kind": "micro"}]}), "spotted[0].offset must be an integer"),
    (json.dumps({"spotted": [{"video": FIRST, "onset": 3, "offset": 9, "kind": "blink"}]}), "spotted[0].kind must be one of"),
    (json.dumps({"spotted": [{"video": FIRST, "onset": 9, "offset": 9999, "kind": "micro"}]}), "are not inside video"),
    (json.dumps({"spotted": [{"video": FIRST, "onset": 9, "offset": 3, "kind": "micro"}]}), "are not inside video"),
    (json.dumps({"spotted": [{"video": 7, "onset": 9, "offset": 3, "kind": "micro"}]}), "spotted[0].video must be a string"),
    (json.dumps({"spotted": [{"video": "other", "onset": 1, "offset": 3, "kind": "micro"}]}), "names none of the file's videos"),
    ("[" * 100_000 + "]" * 100_000, "spotting.json"),
])
def test_a_hostile_spots_file_is_one_line_naming_file_and_field(long_file: Path, tmp_path: Path, content: str,
                                                                expected: str) -> None:
    spots = tmp_path / "spotting.json"
    spots.write_text(content)
    result = run(str(long_file), "--html", "--spots", str(spots), "--out", str(tmp_path / "p.html"))
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(spots) in lines[0] and expected in lines[0], result.output
    assert "Traceback" not in result.output and not (tmp_path / "p.html").exists()


def test_a_folder_without_spotting_json_is_refused(long_file: Path, tmp_path: Path) -> None:
    result = run(str(long_file), "--html", "--spots", str(tmp_path), "--out", str(tmp_path / "p.html"))
    assert result.exit_code != 0 and "no spotting.json in it" in result.output


@pytest.mark.parametrize("args, expected", [
    (["--html", "--per-class", "3"], "--per-class: not for a long-video file"),
    (["--html", "--no-clean"], "--clean: not for a long-video file"),
    (["--html", "--root", "x"], "--root: not for a long-video file"),
    (["--video", FIRST], "only shape the --html page; add --html"),
    (["--html", "--video", "nope"], "--video nope"),
])
def test_options_of_the_other_kind_of_file_are_refused(long_file: Path, tmp_path: Path, args, expected) -> None:
    result = run(str(long_file), *args, "--out", str(tmp_path / "p.html"))
    assert result.exit_code != 0 and expected in result.output, result.output


def test_stretch_frames_read_only_the_stretch(long_file: Path, monkeypatch) -> None:
    video = read_long_video_file(long_file, video_ids=[SECOND])[0]
    numbers = list(page_stretch(video, truth_intervals(video), seconds=4.0))
    ranges = []
    real = LongVideoFile.frames

    def frames(self, video_id, start=0, stop=None):
        ranges.append((start, stop))
        return real(self, video_id, start, stop)

    monkeypatch.setattr(LongVideoFile, "frames", frames)
    pictures = stretch_frames(long_file, video, numbers)
    assert len(pictures) == len(numbers) == 60 and pictures[0].shape[:2] == (128, 128)
    assert all(numbers[0] <= a and b <= numbers[-1] + 1 and b - a <= SEGMENT_FRAMES for a, b in ranges)


def test_verify_names_the_problem_of_a_damaged_long_file(long_file: Path, tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["verify", str(long_file)]).exit_code == 0
    damaged = tmp_path / "damaged.h5"
    shutil.copy(long_file, damaged)
    with h5py.File(damaged, "r+") as f:
        f[f"videos/{SECOND}/track/state"][5] = 9
        del f[f"videos/{FIRST}/intervals"]
    result = CliRunner().invoke(cli, ["verify", str(damaged)])
    assert result.exit_code == 1
    assert f"video {SECOND}: track/state holds unknown values [9]" in result.output
    assert f"video {FIRST}" in result.output and "intervals" in result.output
