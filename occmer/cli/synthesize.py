"""`occmer synthesize`: write an occluded version of a database to one HDF5 file."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.cli.common import (
    command_line,
    crop_size_option,
    database_input_options,
    database_options,
    executor_options,
    guarded_output,
    landmark_files,
    landmark_options,
    landmark_settings,
    load_clips,
    occluder_options,
    occluder_settings,
    overwrite_option,
    refuse_together,
    seed_option,
    template_files,
    workers_option,
)
from occmer.cli.output import output_options
from occmer.databases.base import FRAME_MODES
from occmer.progress import show_progress


@click.command("synthesize")
@output_options
@database_options("Database name, or several joined by '+' (e.g. casme2+samm). 'demo' (clips) and 'demo-long' "
                  "(long videos) are built on first use. "
                  "[default: demo]")
@occluder_options(default_mask="none")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output HDF5 file. Default: <db>_<mask>.h5 in the current folder. Never one of the inputs; "
                   "OUT.lock keeps a second run off it.")
@seed_option()
@crop_size_option()
@click.option("--no-align", is_flag=True, help="Keep frames as they are instead of aligning the face crop.")
@click.option("--frames", "frames_mode", type=click.Choice(FRAME_MODES), default="clip", show_default=True,
              help="clip = onset..offset, keyframes = onset/apex/offset, all = the whole folder.")
@landmark_options()
@database_input_options()
@workers_option("Worker processes of the local executor (parallel over clips, or over videos for a long-video "
                "--db), and of --features; at most twice the CPUs. The file is the same whatever the count.")
@executor_options("clip", local="this process or --workers processes", output="file", threads="OpenCV")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run of the same command (refused if it read other data).")
@overwrite_option("Replace an existing output (or interrupted run); never an input.")
@click.option("--on-error", type=click.Choice(["stop", "skip"]), default="stop", show_default=True,
              help="stop at the first clip that fails, or skip it and record it in the output.")
@click.option("--on-lost", type=click.Choice(["raise", "hold"]), default="raise", show_default=True,
              help="When the head track is lost on a frame: raise = stop (or skip the clip with --on-error skip); "
                   "hold = interpolate that frame's head motion from the frames tracked around it (counted in the "
                   "clip's placement as frames_lost; recorded in the file's settings).")
@click.option("--skip-invalid", is_flag=True, help="Leave out clips the pre-flight check rejects (recorded).")
@click.option("--features", "feature_specs", multiple=True,
              help="Also compute motion features, e.g. tvl1:28 or farneback:112 (see `occmer features`).")
@click.option("--compression", type=click.IntRange(0, 9), default=1, show_default=True,
              help="gzip level of the stored frames (0 = none; higher levels save little on face frames).")
@click.option("--color", type=click.Choice(["rgb", "gray", "keep"]), default="rgb", show_default=True,
              help="Stored channels: rgb = 3 for every clip (grey clips replicated, so merged grey and colour "
                   "databases such as SAMM + CASME II batch together), gray = 1 (BT.601 luma), keep = as read "
                   "(smallest file for a grey-only database; a mixed file needs OccmerDataset(channels=...)). "
                   "Applied after the occluder is drawn; recorded in the file's settings.")
def synthesize_command(db, roots, mask, out, seed, size, no_align, frames_mode, landmarks, landmarks_dir, apex, workers,
                       executor, ray_address, cpus_per_task, resume, overwrite, on_error, skip_invalid, feature_specs,
                       compression, color, offset_policy="mirror", follow_symlinks=False, on_lost="raise",
                       **occluder):
    """Write a synthetic occluded version of a database to one HDF5 file.

    Each clip: frames are read, the face found on the onset frame (mediapipe), aligned
    once per clip, the occluder placed once and moved with the rigid head motion only,
    and everything written to OUT (HDF5 v1, docs/hdf5-format.md). The file appears only
    when complete; an interrupted run continues with --resume (run.json records what was
    read: --resume refuses another --root or an edited database). With --executor ray each
    clip is a Ray task that writes its shard next to OUT (OUT.parts/), so OUT, the database and
    any template must be on storage every node sees; the file equals a local run's.

    \b
    Examples:
      occmer synthesize --db demo --mask block --coverage 0.3 --out demo_block.h5
      occmer synthesize --db samm --root /data/SAMM --mask glasses --workers 2
      occmer synthesize --db casme2+samm --root casme2=/data/CASME2 --root samm=/data/SAMM --mask surgical
      occmer synthesize --db samm --root /shared/SAMM --mask glasses --out /shared/glasses.h5 --executor ray
      occmer synthesize --db demo-long --mask glasses --workers 2 --out long_glasses.h5
    """
    from occmer.pipeline import SynthesisSettings, synthesize
    from occmer.protocols.splits import compute_splits
    from occmer.ray_runtime import ExecutorChoice

    refuse_together(resume=resume, overwrite=overwrite)
    db = db or "demo"
    long_videos = is_long_video_database(db)
    if long_videos and feature_specs:
        raise click.UsageError(f"--features applies to clips, not to long videos (--db {db})")
    if long_videos and executor == "ray":
        raise click.UsageError(f"--executor ray does not run long videos yet (--db {db}): use --workers N "
                               "(local processes, one video each)")
    where = ExecutorChoice(executor, ray_address, cpus_per_task)
    where.check_available()  # before the database scan
    landmarks, landmark_options_ = landmark_settings(landmarks, landmarks_dir)
    occluder_options_ = occluder_settings(mask, occluder)
    settings = SynthesisSettings(
        database=db, mask=mask, mask_options=occluder_options_, seed=seed,
        size=size, align=not no_align, frames=frames_mode, landmarks=landmarks, landmark_options=landmark_options_,
        apex=apex, offset=offset_policy, compression=compression, color=color, on_lost=on_lost,
    )
    out = out or Path(f"{db.replace('+', '-')}_{mask.split(':')[0]}.h5")
    if long_videos:
        _synthesize_long(settings, roots, out, workers=workers, resume=resume, overwrite=overwrite,
                         skip_invalid=skip_invalid, inputs=[*template_files(mask, occluder.get("choices")), *landmark_files(landmark_options_)])
        return
    specs = _parse_feature_specs(feature_specs)
    loaded = load_clips(db, roots, apex, skip_invalid, progress=show_progress(), offset_policy=offset_policy,
                        follow_symlinks=follow_symlinks)
    inputs = [*loaded.input_files(), *template_files(mask, occluder.get("choices")), *landmark_files(landmark_options_)]
    with guarded_output(out, inputs) as target:
        summary = synthesize(
            settings, loaded.clips, target, workers=workers, resume=resume, overwrite=overwrite, on_error=on_error,
            command=command_line(), invalid=loaded.invalid, progress=show_progress(), roots=loaded.roots,
            splits=compute_splits, executor=where,
        )
        if specs:
            from occmer.features import add_features

            add_features(summary.out, specs, workers=workers, overwrite=True, progress=show_progress())
    click.echo(summary.line())


def is_long_video_database(db: str) -> bool:
    from occmer.databases.long_video import LONG_VIDEO_DATABASES

    return db in LONG_VIDEO_DATABASES


def _synthesize_long(settings, roots: tuple[str, ...], out: Path, *, workers: int, resume: bool, overwrite: bool,
                     skip_invalid: bool, inputs: list[Path]) -> None:
    """`--db` names a long-video database: whole occluded videos (docs/spotting.md, docs/hdf5-format.md)."""
    from occmer.databases.demo_long import DATABASE_ID as DEMO_LONG
    from occmer.databases.long_video import get_long_database
    from occmer.demo.long_video import cached_long_demo
    from occmer.errors import ConfigError, DataError
    from occmer.pipeline import synthesize_long

    db = settings.database
    given = [r.split("=", 1)[1] if r.startswith(f"{db}=") else r for r in roots]
    if len(given) > 1 or (not given and db != DEMO_LONG):
        raise ConfigError(f"--db {db} reads one folder: pass --root PATH once")
    if given:
        root = Path(given[0]).expanduser()
    else:  # the long demo, built into the cache on first use (its size: $OCCMER_LONG_DEMO_PARAMS)
        root = cached_long_demo(progress=show_progress())
    scan = get_long_database(db, root).scan()
    if scan.problems and not skip_invalid:
        listing = "\n".join(f"  - {p}" for p in scan.problems)
        raise DataError(f"{len(scan.problems)} problems in {db} (nothing was written):\n{listing}\n"
                        "fix them, or pass --skip-invalid to leave those videos out")
    for problem in scan.problems:
        click.echo(f"skipping invalid video {problem}", err=True)
    sources = [*(p for v in scan.videos for p in ([v.array] if v.array else [f for _, f in v.frames])), *inputs]
    with guarded_output(out, sources) as target:
        summary = synthesize_long(settings, scan.videos, target, workers=workers, resume=resume, overwrite=overwrite,
                                  command=command_line(), progress=show_progress(), roots={db: root})
    click.echo(summary.line())


def _parse_feature_specs(values: tuple[str, ...]):
    if not values:
        return []
    from occmer.features import parse_feature_spec

    return [parse_feature_spec(v) for v in values]


COMMANDS = [synthesize_command]
