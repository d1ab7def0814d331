"""Issue 27, the first run as a new user sees it: what each output says, and what survives a round trip."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from test_bench_support import write_tiny

from occmer.cli import cli
from occmer.store import OccmerFile

torch.set_num_threads(1)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("first_run")
    return {"clean": write_tiny(root / "clean.h5"), "surgical": write_tiny(root / "surgical.h5", occluded=True)}


@pytest.fixture(scope="module")
def bench_run(files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("first_run_bench") / "run"
    result = run("bench", "ststnet", "--data", str(files["clean"]), "--data", str(files["surgical"]),
                 "--seeds", "2", "--epochs", "1", "--batch-size", "4", "--no-progress", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def reimported(files, tmp_path_factory) -> tuple[Path, str]:
    """The surgical file exported (npy) and imported back: a features-only file, and import's output."""
    tmp_path = tmp_path_factory.mktemp("round_trip")
    assert run("splits", str(files["surgical"])).exit_code == 0
    out = tmp_path / "npy"
    assert run("export", str(files["surgical"]), str(out), "--layout", "npy").exit_code == 0
    back = tmp_path / "back.h5"
    result = run("import", str(out / "features.npy"), "--csv", str(out / "samples.csv"), "--normalisation", "none",
                 "--out", str(back))
    assert result.exit_code == 0, result.output
    return back, result.output


def test_export_then_import_keeps_the_occluder_and_ratios(reimported):
    back, output = reimported
    assert "occluder surgical" in output
    with OccmerFile.open(back) as f:
        assert f.attrs()["occluder"]["spec"] == "surgical"
        assert all(abs(r - 0.3) < 1e-6 for r in f.columns()["occlusion_ratio"])


def test_report_reads_the_folder_a_merge_wrote(bench_run, tmp_path):
    merged = tmp_path / "merged"
    assert run("report", str(bench_run), "--out", str(merged), "--no-plots").exit_code == 0
    result = run("report", str(merged), "--no-plots")
    assert result.exit_code == 0, result.output
    assert (merged / "table.csv").read_text() == (bench_run / "table.csv").read_text()


def test_bench_json_files_get_the_mode_of_the_other_outputs(bench_run):
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in bench_run.iterdir() if p.is_file()}
    assert modes["config.json"] == modes["metrics.json"] == modes["table.md"], modes


def test_a_lost_head_track_names_the_command_line_choice(aligned_hopper):
    import numpy as np

    from occmer.faces.motion import HeadTrackingError, track_head_motion
    from occmer.faces.synthetic import rigid_clip
    from occmer.pipeline import SynthesisSettings, settings_dict

    onset, lm = aligned_hopper
    frames = rigid_clip(onset, [np.eye(2, 3)] * 4, 2.0, np.random.default_rng(3))
    frames[2] = np.random.default_rng(4).integers(0, 255, onset.shape, dtype=np.uint8)
    with pytest.raises(HeadTrackingError, match="--on-lost hold"):
        track_head_motion(frames, 0, lm, sample_id="demo_sub01_EP01_01")
    assert settings_dict(SynthesisSettings(on_lost="hold"))["on_lost"] == "hold"
    assert "on_lost" not in settings_dict(SynthesisSettings())  # files written before keep their settings
    result = CliRunner().invoke(cli, ["synthesize", "--help"])
    assert "--on-lost [raise|hold]" in result.output


def test_the_inspect_gallery_draws_clips_across_subjects():
    from occmer.pages.inspect_page import choose_gallery

    subjects = [f"demo/sub{s:02d}" for s in range(1, 25) for _ in range(7)]
    labels = [c for _ in range(24) for c in "ABCDEFG"]
    ids = [f"{s}_{c}" for s, c in zip(subjects, labels, strict=True)]
    rows = choose_gallery(ids, labels, subjects, per_class=2)
    assert len(rows) == 14
    assert len({subjects[i] for i in rows}) == 14  # not sub01 and sub02 only
    assert all(sum(labels[i] == c for i in rows) == 2 for c in "ABCDEFG")
    assert rows == choose_gallery(ids, labels, subjects, per_class=2)


def test_a_features_only_file_gets_a_page_about_its_features(reimported, tmp_path):
    from occmer.pages.inspect_page import render_inspect_html

    back, _ = reimported
    page = render_inspect_html(back, tmp_path / "page.html").read_text()
    assert "no clip to animate" not in page and "played from onset" not in page
    assert "features only" in page and "flow magnitude" in page and 'alt="features of' in page
    assert "{&#x27;" not in page and "{'" not in page  # no Python reprs
    summary = run("inspect", str(back)).output
    assert "occluder: surgical" in summary and "{'" not in summary and "['" not in summary


def test_one_unit_for_file_sizes():
    from occmer.progress import size_text

    assert size_text(326_200_000) == "326.2 MB"
    assert size_text(999) == "999 B" and size_text(1500) == "1.5 kB" and size_text(2.5e9) == "2.5 GB"


def test_every_output_of_a_demo_run_says_what_it_rests_on(bench_run, tmp_path):
    import pandas as pd

    table = (bench_run / "table.md").read_text()
    page = (bench_run / "report.html").read_text()
    result = run("report", str(bench_run), "--out", str(tmp_path / "again"), "--no-plots")
    for text in (table, page, result.output):
        assert "synthetic demo database" in text
        assert "12 clips of 4 subjects" in text
        assert "2 seeds (0, 1)" in text
        assert "surgical" in text and ("within the seed spread" in text or "beyond the seed spread" in text)
    assert "official list" not in page or "no official list" in page  # the page says what the terminal says
    assert len(pd.read_csv(bench_run / "table.csv")) == 2


def test_a_one_seed_run_says_no_difference_is_a_finding(files, tmp_path):
    out = tmp_path / "one"
    result = run("bench", "ststnet", "--data", str(files["clean"]), "--data", str(files["surgical"]), "--epochs", "1",
                 "--batch-size", "4", "--no-progress", "--out", str(out), "--no-html")
    assert result.exit_code == 0, result.output
    for text in ((out / "table.md").read_text(), result.output):
        assert "One seed (0)" in text and "no difference in these tables is a finding" in text
        assert "mean±std over seeds" not in text
        assert "no spread known (one seed): not a finding" in text


def test_attention_legends_sit_below_the_bars():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from occmer.bench.plots import attention_figure

    rows = [{"condition": c, "seed": seed, "region": r, "weight": 0.1 + 0.01 * r + 0.001 * seed, "covered": cov}
            for c, cov in (("clean", 0.0), ("glasses", 0.7)) for seed in (0, 1) for r in range(6)]
    fig = attention_figure(pd.DataFrame(rows), "rrrn", ["clean", "glasses"])
    fig.canvas.draw()
    for ax in fig.axes:
        legend = ax.get_legend().get_window_extent()
        assert legend.y1 <= ax.get_window_extent().y0  # wholly under the plotting area: no bar is covered
        assert ax.containers and any(getattr(c, "errorbar", None) is not None for c in ax.containers)


def _block(doc: str, containing: str) -> str:
    from docs_examples import REPO, extract

    return next(e.code for e in extract(REPO / doc) if containing in e.code)


def test_the_readme_h5py_snippet_gives_text_not_bytes(files, tmp_path, monkeypatch):
    import shutil

    (tmp_path / "out").mkdir()
    shutil.copy(files["clean"], tmp_path / "out" / "demo_glasses.h5")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(_block("README.md", "pd.DataFrame"), scope)  # noqa: S102 - the documented example, as printed
    assert isinstance(scope["index"]["sample_id"][0], str) and isinstance(scope["index"]["emotion"][0], str)
    assert scope["frames"].dtype.name == "uint8"


def test_the_occluders_python_api_block_runs_in_the_default_suite():
    from docs_examples import REPO, extract

    block = next(e for e in extract(REPO / "docs" / "occluders.md") if "Compositor(layer)" in e.code)
    assert not block.slow and not block.skip  # so `make test` (test_docs.py) runs it, not only test-slow
    compile(block.code, "docs/occluders.md", "exec")


def test_per_clip_datasets_say_what_they_hold(block_file):
    import h5py

    with h5py.File(block_file, "r") as f:
        clip = f["clips"][sorted(f["clips"])[0]]
        assert "0 = face visible, 255 = covered" in clip["occlusion"].attrs["description"]
        assert "(x, y) order" in clip["landmarks"].attrs["description"]
        assert "(x, y)" in clip["head_motion"].attrs["description"]
        assert clip["frames"].attrs["units"] == "8-bit pixel values"


def test_bench_shows_progress_while_it_builds_the_demo_database(tmp_path, capsys, monkeypatch):
    """A cold cache: `occmer bench` built the demo database for minutes without a word; in a log
    (stderr not a terminal) it now prints occmer's progress lines, never carriage-return frames."""
    import occmer.bench.demo as bench_demo
    import occmer.progress

    class Built(Exception):
        pass

    def stop(*args, **kwargs):
        raise Built

    monkeypatch.setattr(occmer.progress, "_SETTINGS", occmer.progress.OutputSettings())
    monkeypatch.setattr(bench_demo, "synthesize", stop)  # the database is what this test is about
    with pytest.raises(Built):
        bench_demo.ensure_demo_condition("none", features=(), cache_dir=tmp_path, progress=True,
                                         demo_params={"subjects": 2, "clips_per_subject": 3, "frames": 12, "size": 160})
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("demo database (first use): ")]
    assert len(lines) >= 2 and "6/6 clips done in" in lines[-1], err
    assert "\r" not in err
    with pytest.raises(Built):  # cached now: no second build, no progress
        bench_demo.ensure_demo_condition("none", features=(), cache_dir=tmp_path, progress=True,
                                         demo_params={"subjects": 2, "clips_per_subject": 3, "frames": 12, "size": 160})
    assert "demo database" not in capsys.readouterr().err
