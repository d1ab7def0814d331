"""`occmer demo-db`: build the synthetic demo micro-expression database (CASME II layout)."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.cli.common import guarded_output, seed_option
from occmer.cli.output import output_options
from occmer.demo import EXPRESSIONS, DemoParams, build_demo_database, read_manifest
from occmer.demo.build import check_target

_DEFAULTS = DemoParams()


@click.command("demo-db")
@output_options
@click.argument("path", type=click.Path(file_okay=True, dir_okay=True, path_type=Path))
@seed_option("Seed of every random choice.", default=_DEFAULTS.seed)
@click.option(
    "--subjects", type=click.IntRange(1, 1000), default=_DEFAULTS.subjects, show_default=True, help="Number of subjects (distinct faces)."
)
@click.option(
    "--clips-per-subject",
    type=click.IntRange(1, 1000),
    default=_DEFAULTS.clips_per_subject,
    show_default=True,
    help="Clips per subject; classes are balanced within each subject.",
)
@click.option("--frames", type=click.IntRange(1, 2000), default=_DEFAULTS.frames, show_default=True, help="Frames per clip (at least 12).")
@click.option(
    "--size", type=int, default=_DEFAULTS.size, show_default=True, help="Frame side in pixels (square frames)."
)
@click.option("--overwrite", is_flag=True, help="Replace PATH if it already holds a demo database.")
def demo_db(
    path: Path, seed: int, subjects: int, clips_per_subject: int, frames: int, size: int, overwrite: bool
) -> None:
    """Build the synthetic demo micro-expression database at PATH.

    The database is written in the CASME II layout (subXX/EPXX_01/img{n}.jpg, a CASME II
    coding sheet and an objective-class sheet) plus demo.json, the ground truth of the motion
    applied to every clip. Faces come from images bundled with scikit-image and matplotlib;
    expressions are synthetic action-unit deformations (AU6+12, AU4+7, AU1+2(+5)) with sub-pixel
    head drift and sensor noise. It checks pipelines; it is not a substitute for real data.
    `--db demo` in other commands builds the same database into the cache folder on first use.
    """
    from occmer.progress import progress_bar

    params = DemoParams(seed, subjects, clips_per_subject, frames, size).validate()
    check_target(path.expanduser().absolute(), overwrite)
    total = params.subjects * params.clips_per_subject
    with guarded_output(path), progress_bar(total, "demo-db", "clip", leave=False) as bar:
        root = build_demo_database(
            path,
            seed=seed,
            subjects=subjects,
            clips_per_subject=clips_per_subject,
            frames=frames,
            size=size,
            overwrite=overwrite,
            progress=lambda _sample: bar.update(1),
        )
    manifest = read_manifest(root)
    expressions = [clip["expression"] for clip in manifest["clips"]]
    per_class = ", ".join(f"{name} {expressions.count(name)}" for name in EXPRESSIONS)
    click.echo(
        f"demo database: {len(manifest['clips'])} clips ({per_class}) of {params.subjects} subjects, "
        f"{params.frames} frames of {params.size}x{params.size} px, seed {params.seed} -> {root}"
    )


COMMANDS = [demo_db]
