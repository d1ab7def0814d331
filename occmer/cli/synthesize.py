"""`occmer synthesize`: write an occluded version of a database to one HDF5 file."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from occmer.cli.common import load_clips, mask_options
from occmer.databases.apex import APEX_POLICIES
from occmer.databases.base import FRAME_MODES


@click.command("synthesize")
@click.option("--db", default="demo", show_default=True,
              help="Database name, or several joined by '+' (e.g. casme2+samm). 'demo' is built on first use.")
@click.option("--root", "roots", multiple=True,
              help="Database folder. With several databases: NAME=PATH, repeated. Default: the database's "
                   "environment variable (see `occmer describe --help`).")
@click.option("--mask", default="none", show_default=True,
              help="Occluder: none, block, glasses, sunglasses, surgical, n95, cloth, random, or custom:PATH.json.")
@click.option("--coverage", type=float, default=None, help="block: fraction of the face region to cover (0-1).")
@click.option("--region", default=None, help="block: eyes, mouth, nose, upper, lower or any.")
@click.option("--fill", default=None, help="block: black, gray, noise or mean.")
@click.option("--variant", default=None, help="Template variant of the occluder (see docs/occluders.md).")
@click.option("--choices", default=None, help="random: comma-separated occluders to draw from, one per clip.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output HDF5 file. Default: <db>_<mask>.h5 in the current folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="Global seed; each clip derives its own.")
@click.option("--size", type=int, default=224, show_default=True, help="Side of the aligned square face crop (px).")
@click.option("--no-align", is_flag=True, help="Keep frames as they are instead of aligning the face crop.")
@click.option("--frames", "frames_mode", type=click.Choice(FRAME_MODES), default="clip", show_default=True,
              help="clip = onset..offset, keyframes = onset/apex/offset, all = the whole folder.")
@click.option("--landmarks", default="mediapipe", show_default=True,
              help="Landmark backend: mediapipe (bundled model) or file:FOLDER (your own landmarks, one file per "
                   "clip, see docs/landmarks.md).")
@click.option("--landmarks-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="file backend: folder of per-clip landmark files (same as --landmarks file:FOLDER).")
@click.option("--apex", type=click.Choice(sorted(APEX_POLICIES)), default="midpoint", show_default=True,
              help="How a missing apex is filled (recorded per clip in apex_source).")
@click.option("--offset", "offset_policy", type=click.Choice(["mirror", "half-second", "skip"]), default="mirror",
              show_default=True,
              help="How an offset the sheet leaves unannotated (CAS(ME)^3 writes 0) is filled: mirror = apex + "
                   "(apex - onset), half-second = onset + 0.5 s of frames, skip = a problem. Recorded per clip.")
@click.option("--follow-symlinks", is_flag=True,
              help="Accept clip folders and frames that are symlinks leading outside the root (refused by default).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes (parallel over clips).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run of the same command.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output (or interrupted run).")
@click.option("--on-error", type=click.Choice(["stop", "skip"]), default="stop", show_default=True,
              help="stop at the first clip that fails, or skip it and record it in the output.")
@click.option("--skip-invalid", is_flag=True, help="Leave out clips the pre-flight check rejects (recorded).")
@click.option("--features", "feature_specs", multiple=True,
              help="Also compute motion features, e.g. tvl1:28 or farneback:112 (see `occmer features`).")
@click.option("--compression", type=click.IntRange(0, 9), default=1, show_default=True,
              help="gzip level of the stored frames (0 = none; higher levels save little on face frames).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def synthesize_command(db, roots, mask, coverage, region, fill, variant, choices, out, seed, size, no_align,
                       frames_mode, landmarks, landmarks_dir, apex, workers, resume, overwrite, on_error,
                       skip_invalid, feature_specs, compression, no_progress, offset_policy="mirror",
                       follow_symlinks=False):
    """Write a synthetic occluded version of a database to one HDF5 file.

    Each clip: frames are read, the face found on the onset frame (mediapipe), aligned
    once per clip, the occluder placed once and moved with the rigid head motion only,
    and everything written to OUT (HDF5 v1, docs/hdf5-format.md). The file appears only
    when complete; an interrupted run continues with --resume.

    \b
    Examples:
      occmer synthesize --db demo --mask block --coverage 0.3 --out demo_block.h5
      occmer synthesize --db samm --root /data/SAMM --mask glasses --workers 2
      occmer synthesize --db casme2+samm --root casme2=/data/CASME2 --root samm=/data/SAMM --mask surgical
    """
    from occmer.bench.splits import compute_splits
    from occmer.pipeline import SynthesisSettings, synthesize

    if landmarks.startswith("file:"):
        landmarks, landmarks_dir = "file", Path(landmarks.split(":", 1)[1])
    landmark_options = {"folder": str(landmarks_dir.resolve())} if landmarks_dir else {}
    settings = SynthesisSettings(
        database=db, mask=mask, mask_options=mask_options(coverage, region, fill, variant, choices), seed=seed,
        size=size, align=not no_align, frames=frames_mode, landmarks=landmarks, landmark_options=landmark_options,
        apex=apex, compression=compression,
    )
    specs = _parse_feature_specs(feature_specs)
    out = out or Path(f"{db.replace('+', '-')}_{mask.split(':')[0]}.h5")
    clips, invalid = load_clips(db, roots, apex, skip_invalid, progress=not no_progress, offset_policy=offset_policy,
                                follow_symlinks=follow_symlinks)
    command = "occmer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    summary = synthesize(
        settings, clips, out, workers=workers, resume=resume, overwrite=overwrite, on_error=on_error,
        command=command, invalid=invalid, progress=not no_progress, splits=compute_splits,
    )
    if specs:
        from occmer.features import add_features

        add_features(summary.out, specs, workers=workers, overwrite=True, progress=not no_progress)
    click.echo(summary.line())


def _parse_feature_specs(values: tuple[str, ...]):
    if not values:
        return []
    from occmer.features import parse_feature_spec

    return [parse_feature_spec(v) for v in values]


COMMANDS = [synthesize_command]
