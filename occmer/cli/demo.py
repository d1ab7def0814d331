"""`occmer demo-db`: build the synthetic demo micro-expression database (CASME II layout)."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.cli.common import guarded_output, seed_option
from occmer.cli.output import output_options
from occmer.demo import BALANCES, CLASSES, PRESETS, DemoParams, build_demo_database, make_params, motion, read_manifest
from occmer.demo.build import check_target

_DEFAULTS = DemoParams()


@click.command("demo-db")
@output_options
@click.argument("path", type=click.Path(file_okay=True, dir_okay=True, path_type=Path))
@seed_option("Seed of every random choice.", default=_DEFAULTS.seed)
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    default=_DEFAULTS.preset,
    show_default=True,
    help="Recording to copy: casme2 (200 fps), samm (200 fps, gray, SAMM AU notation), smic (100 fps, "
    "clip = movement), casme3 (30 fps). Sets clip lengths, onset-apex-offset timing, noise and JPEG quality.",
)
@click.option(
    "--balance",
    type=click.Choice(list(BALANCES)),
    default=_DEFAULTS.balance,
    show_default=True,
    help="Class shares: balanced (every class I-VII equally, within each subject too), or the objective-class "
    "shares of CASME II or SAMM (subjects then do not all show every class).",
)
@click.option(
    "--classes",
    default=_DEFAULTS.classes,
    metavar="LIST",
    help="Objective classes to draw from, comma-separated (e.g. I,II,IV: happiness, surprise, disgust, the three "
    "well-separated groups `occmer bench` uses by default); empty: all of I-VII.",
)
@click.option(
    "--subjects", type=click.IntRange(1, 1000), default=_DEFAULTS.subjects, show_default=True, help="Number of subjects (distinct faces)."
)
@click.option(
    "--clips-per-subject", type=click.IntRange(1, 1000), default=_DEFAULTS.clips_per_subject, show_default=True, help="Clips per subject."
)
@click.option(
    "--database-size",
    is_flag=True,
    help="Subjects and clips of the real database the preset copies (e.g. casme2: 26 subjects x 10 clips); "
    "overrides --subjects and --clips-per-subject.",
)
@click.option(
    "--frames",
    type=click.IntRange(0, motion.MAX_FRAMES),
    default=_DEFAULTS.frames,
    show_default=True,
    help="0: clip lengths from the preset's timing; N (at least 12): every clip N frames long.",
)
@click.option(
    "--size", type=int, default=_DEFAULTS.size, show_default=True, help="Frame side in pixels (square frames)."
)
@click.option(
    "--amplitude",
    type=float,
    default=_DEFAULTS.amplitude_median_px,
    show_default=True,
    help="Median apex displacement in px at 200 px (log-normal over clips: about 40% of clips below 1 px).",
)
@click.option(
    "--blinks", type=float, default=_DEFAULTS.blink_share, show_default=True, help="Share of clips with a blink."
)
@click.option(
    "--head-motion",
    type=float,
    default=_DEFAULTS.head_motion,
    show_default=True,
    help="Scale of the rigid head motion (translation, roll, zoom, yaw); 0 keeps the head still.",
)
@click.option(
    "--flicker",
    type=float,
    default=_DEFAULTS.flicker,
    show_default=True,
    help="Largest relative brightness change (flicker + drift); 0 keeps the light steady.",
)
@click.option("--overwrite", is_flag=True, help="Replace PATH if it already holds a demo database.")
def demo_db(
    path: Path,
    seed: int,
    preset: str,
    balance: str,
    classes: str,
    subjects: int,
    clips_per_subject: int,
    database_size: bool,
    frames: int,
    size: int,
    amplitude: float,
    blinks: float,
    head_motion: float,
    flicker: float,
    overwrite: bool,
) -> None:
    """Build the synthetic demo micro-expression database at PATH.

    The database is written in the CASME II layout (subXX/EPXX_01/img{n}.jpg, a CASME II
    coding sheet and an objective-class sheet) plus demo.json, the ground truth of every
    motion applied to every clip. Faces come from images bundled with scikit-image and
    matplotlib. Clips carry what makes real data hard: objective classes I-VII drawn from
    their AU combinations, unilateral and asymmetric AUs, varied intensities, many sub-pixel
    movements, blinks, rigid head motion, light flicker, sensor noise and JPEG, with the
    timing of the chosen recording preset (docs/demo-database.md). It checks pipelines and
    ranks models under occlusion; it is not a substitute for real data. `--db demo` in other
    commands builds the default database into the cache folder on first use.
    """
    from occmer.progress import progress_bar

    if database_size:
        subjects, clips_per_subject = PRESETS[preset].database_size()
    values = {
        "seed": seed, "preset": preset, "balance": balance, "classes": classes, "subjects": subjects,
        "clips_per_subject": clips_per_subject, "frames": frames, "size": size, "amplitude_median_px": amplitude,
        "blink_share": blinks, "head_motion": head_motion, "flicker": flicker,
    }
    params = make_params(**values)
    check_target(path.expanduser().absolute(), overwrite)
    total = params.subjects * params.clips_per_subject
    with guarded_output(path), progress_bar(total, "demo-db", "clip", leave=False) as bar:
        root = build_demo_database(path, overwrite=overwrite, progress=lambda _sample: bar.update(1), **values)
    manifest = read_manifest(root)
    found = [clip["objective_class"] for clip in manifest["clips"]]
    per_class = ", ".join(f"{name} {found.count(name)}" for name in CLASSES if name in found)
    lengths = [len(clip["frames"]) for clip in manifest["clips"]]
    click.echo(
        f"demo database ({params.preset}, {params.balance}): {len(found)} clips (classes {per_class}) of "
        f"{params.subjects} subjects, {min(lengths)}-{max(lengths)} frames of {params.size}x{params.size} px "
        f"at {params.recording.fps:g} fps, seed {params.seed} -> {root}"
    )


COMMANDS = [demo_db]
