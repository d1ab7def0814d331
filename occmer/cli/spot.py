"""`occmer spot`: the spotting task on long videos (the long demo or a long-video file; leave-one-subject-out)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from occmer.cli.common import Decorator, seed_option
from occmer.cli.output import output_options
from occmer.spotting import DEFAULT_SPOTTER, SPOTTER_NAMES

_KINDS = ("micro", "macro")


def spotter_option() -> Decorator:
    """--spotter NAME (`occmer spot`, `occmer bench --task spot|str`): the spotter of the registry."""
    return click.option(
        "--spotter", type=click.Choice(SPOTTER_NAMES), default=DEFAULT_SPOTTER, show_default=True,
        help="How expressions are spotted: megc-baseline (the MEGC feature-difference baseline, Moilanen et al. "
             "2014) or softnet (SOFTNet, Liong et al. 2021: a shallow CNN trained per held-out subject on TV-L1 "
             "flow; CPU minutes; seeded by --seed). docs/spotting.md.")


@click.command("spot")
@output_options
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--long-demo",
    "long_demo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A long demo folder (demo.json + frames); built there when missing. Default: OUT/long-demo.",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A long-video HDF5 file (`occmer synthesize --db demo-long ...`, clean or occluded) instead of the long demo.",
)
@spotter_option()
@seed_option("Seed of the long demo, when it is built, and of a learnt spotter's folds.")
@click.option("--subjects", type=click.IntRange(2, 100), default=3, show_default=True, help="Subjects of a built long demo.")
@click.option("--seconds", type=click.FloatRange(5, 3600), default=60.0, show_default=True, help="Length of each built video.")
@click.option("--size", type=click.IntRange(128, 1024), default=128, show_default=True, help="Frame side of a built long demo (px).")
@click.option("--kind", "kinds", type=click.Choice(_KINDS), multiple=True, help="Kinds to spot (repeat); default both.")
def spot(out: Path, long_demo: Path | None, data: Path | None, spotter: str, seed: int, subjects: int, seconds: float,
         size: int, kinds: tuple[str, ...]) -> None:
    """Spot micro- and macro-expressions in long videos (the MEGC baseline, or --spotter softnet).

    The videos: the long demo's folder (--long-demo, built when missing), or a long-video HDF5
    file written by `occmer synthesize --db demo-long` (--data FILE.h5, clean or occluded).

    Leave-one-subject-out: k (and the baseline's threshold p) are set on the other subjects (SOFTNet:
    a network trained on them); the spotted
    intervals are scored by the MEGC rules (IoU >= 0.5, F1 pooled over videos); OUT/spotting.json
    holds the counts, each fold's settings and every spotted interval.
    """
    from occmer.demo.long_video import MANIFEST, LongVideoParams, read_long_demo, write_long_demo
    from occmer.progress import info, show_progress
    from occmer.spotting.metrics import OVERALL
    from occmer.spotting.sources import read_long_video_file
    from occmer.spotting.spotters import make_spotter

    if data is not None and long_demo is not None:
        raise click.UsageError("--data and --long-demo name two inputs: pass one of them")
    folder = long_demo or out / "long-demo"
    if data is None and not (folder / MANIFEST).exists():
        info(f"building the long demo in {folder} ({subjects} subjects x {seconds:g} s)")
        write_long_demo(folder, LongVideoParams(seed=seed, subjects=subjects, seconds=seconds, size=size))
    method = make_spotter(spotter, seed)
    run = method.run(read_long_demo(folder) if data is None else read_long_video_file(data), kinds=kinds or _KINDS,
                     progress=show_progress(), label=f"spotting ({spotter})")
    scores = run.scores
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "task": "spot",
        "spotter": method.description,
        "spotter_name": spotter,
        **({"seed": seed} if method.learnt else {}),
        **({"long_demo": str(folder)} if data is None else {"data": str(data)}),
        "minutes": run.minutes,
        "false_spots_per_minute": run.false_spots_per_minute(),
        "scores": scores.as_dict(),
        "folds": [vars(f) for f in run.folds],
        "spotted": [vars(s) for s in run.spotted],
    }
    (out / "spotting.json").write_text(json.dumps(document, indent=1))
    for kind, counts in scores.counts[OVERALL].items():
        click.echo(f"{kind:8s} TP {counts.tp:3d} FP {counts.fp:3d} FN {counts.fn:3d}  P {counts.precision:.3f} R {counts.recall:.3f} F1 {counts.f1:.3f}")
    click.echo(f"false spots per minute: {run.false_spots_per_minute():.2f}; written {out / 'spotting.json'}")


COMMANDS = [spot]
