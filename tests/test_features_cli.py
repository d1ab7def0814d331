"""`occmer features`: options reach the library, reruns say 'up to date', user errors exit 2 in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from occmer.cli import cli
from occmer.features import feature_names, read_features
from occmer.features.groundtruth import GroundTruthClip, write_groundtruth_file


@pytest.fixture()
def small(tmp_path) -> Path:
    clips = [GroundTruthClip("a", "s1", "AU4"), GroundTruthClip("b", "s2", "AU12")]
    return write_groundtruth_file(tmp_path / "small.h5", clips, size=96, n_frames=3, gray=True)


def run(*args: str):
    return CliRunner().invoke(cli, ["features", *args])


def test_compute_list_and_rerun(small):
    result = run(str(small), "--flow", "dis,farneback", "--size", "16,32", "--diff", "--normalise", "maxabs",
                 "--flow-param", "winsize=9", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "/features/flow_farneback_32_diff_maxabs_winsize9: written" in result.output
    assert feature_names(small) == ["flow_dis_16_diff_maxabs", "flow_dis_32_diff_maxabs",
                                    "flow_farneback_16_diff_maxabs_winsize9", "flow_farneback_32_diff_maxabs_winsize9"]
    fs = read_features(small, "flow_farneback_16_diff_maxabs_winsize9")
    assert fs.channels == ["u", "v", "strain", "diff"] and fs.attrs["params"]["winsize"] == 9
    assert fs.attrs["normalisation"] == "maxabs" and fs.data.shape == (2, 4, 16, 16)
    again = run(str(small), "--flow", "dis", "--size", "16", "--diff", "--normalise", "maxabs", "--no-progress")
    assert again.exit_code == 0 and "flow_dis_16_diff_maxabs: up to date" in again.output
    listing = run(str(small), "--list")
    assert listing.exit_code == 0
    assert ("flow_dis_32_diff_maxabs: 2 x 4 x 32 x 32 (u, v, strain, diff), method dis, normalisation maxabs, "
            "default settings") in listing.output
    assert "method farneback, normalisation maxabs, settings winsize=9 (the rest default)" in listing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flow", "lucas"], "unknown flow method 'lucas'"),
        (["--size", "28,x"], "--size expects integers"),
        (["--flow-param", "nscales"], "--flow-param expects KEY=VALUE"),
        (["--flow", "dis", "--flow-param", "nscales=3"], "--flow-param nscales: not a setting of dis"),
        (["--workers", "0"], "--workers must be an integer from 1 to"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(small, args, message):
    result = run(str(small), *args, "--no-progress")
    assert result.exit_code == 2
    assert message in result.output and result.output.count("\n") == 1


def test_non_default_settings_get_their_own_set_and_never_replace_the_default(small):
    """Issue 27: `--flow-param ... --overwrite` replaced flow_tvl1_28 silently; a variant is now stored beside it."""
    assert run(str(small), "--flow", "dis", "--size", "16", "--no-progress").exit_code == 0
    default = read_features(small, "flow_dis_16").data
    for args, name in ((["--flow-param", "patch_size=12"], "flow_dis_16_patch_size12"),
                       (["--diff"], "flow_dis_16_diff"), (["--normalise", "maxabs"], "flow_dis_16_maxabs")):
        result = run(str(small), "--flow", "dis", "--size", "16", *args, "--overwrite", "--no-progress")
        assert result.exit_code == 0 and f"/features/{name}: written" in result.output, result.output
    assert (read_features(small, "flow_dis_16").data == default).all()
    assert read_features(small, "flow_dis_16_patch_size12").attrs["params"]["patch_size"] == 12
    same = run(str(small), "--flow", "dis", "--size", "16", "--flow-param", "patch_size=8", "--no-progress")
    assert "/features/flow_dis_16: up to date" in same.output  # a setting given at its default is the default set
    listing = run(str(small), "--list").output
    assert "flow_dis_16: 2 x 3 x 16 x 16 (u, v, strain), method dis, normalisation none, default settings" in listing
    assert "flow_dis_16_patch_size12: " in listing and "settings patch_size=12 (the rest default)" in listing


def test_a_set_named_by_an_older_occmer_with_other_settings_needs_overwrite(small):
    from occmer.features import FlowSpec, add_features

    add_features(small, [FlowSpec("dis", 16, diff=True, name="flow_dis_16")], progress=False)  # as an older occmer named it
    conflict = run(str(small), "--flow", "dis", "--size", "16", "--no-progress")
    assert conflict.exit_code == 2 and "differs in: channels" in conflict.output and "--overwrite" in conflict.output
    replaced = run(str(small), "--flow", "dis", "--size", "16", "--overwrite", "--no-progress")
    assert replaced.exit_code == 0 and "flow_dis_16: written" in replaced.output
    assert read_features(small, "flow_dis_16").channels == ["u", "v", "strain"]
