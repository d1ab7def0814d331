"""`occmer features`: onset-to-apex optical flow and strain for every clip of a file."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.cli.common import guarded_output, overwrite_option, workers_option
from occmer.cli.output import output_options
from occmer.features import FLOW_METHODS, NORMALISERS, add_features, describe_features, specs_from_options
from occmer.features.spec import settings_text
from occmer.progress import show_progress

_METHODS_HELP = "; ".join(f"{name}: {cls.description}" for name, cls in FLOW_METHODS.items())


@click.command("features")
@output_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--flow", "methods", default="tvl1", show_default=True,
              help=f"Flow method(s), comma-separated. {_METHODS_HELP}.")
@click.option("--size", "sizes", default="28", show_default=True,
              help="Grid side(s) S of the stored features, comma-separated (e.g. 28,112): one set per size.")
@click.option("--diff", is_flag=True, help="Add the apex-minus-onset difference image as a fourth channel.")
@click.option("--normalise", type=click.Choice(list(NORMALISERS)), default="none", show_default=True,
              help="none: flow in pixels of the S grid; maxabs: per-sample scaling to [-1, 1] (divisors stored).")
@click.option("--four-maps", is_flag=True,
              help="CausalNet's input instead: the onset->apex and apex->offset flow images (0..255) and their "
                   "direction maps, 12 channels, stored as /features/flow4_<method>_<size>/ (docs/models.md).")
@click.option("--flow-param", "flow_params", multiple=True, metavar="KEY=VALUE",
              help="Override a flow setting (repeatable), e.g. --flow-param nscales=3; see docs/features.md.")
@workers_option("Worker processes (parallel over clips; each uses one OpenCV thread; at most twice the CPUs).")
@overwrite_option("Recompute and replace feature sets that already exist.")
@click.option("--list", "list_only", is_flag=True, help="Only list the feature sets already in FILE.")
def features_command(
    file: Path, methods: str, sizes: str, diff: bool, normalise: str, flow_params: tuple[str, ...],
    workers: int, overwrite: bool, list_only: bool, four_maps: bool = False,
) -> None:
    """Compute onset->apex flow (u, v), optical strain (and optionally the difference image)
    for every clip in FILE and store them under /features/flow_<method>_<size>/.

    Anything but the default computation gets its own name, so it never replaces the default
    set: --diff adds _diff, --normalise maxabs _maxabs, each --flow-param KEY=VALUE that differs
    from the method's default _<KEY><VALUE> (e.g. flow_tvl1_28_lambda0.1_nscales3).

    The flow is computed on the stored (aligned, occluded) frames at their resolution, then
    resized to each S x S grid; the occluder alpha is stored on the same grid. Sets already
    present with the same settings are skipped, so rerunning is safe.

    Example: occmer features glasses.h5 --flow tvl1 --size 28,112 --workers 2
    """
    if list_only:
        _print_sets(file)
        return
    specs = specs_from_options(methods, sizes, diff, normalise, flow_params, four_maps)  # flow settings checked here
    with guarded_output(file, option="FILE"):  # FILE.lock: one writer at a time
        written = add_features(file, specs, workers=workers, overwrite=overwrite, progress=show_progress())
    for spec in specs:
        state = "written" if spec.feature_name in written else "up to date (same settings; --overwrite recomputes)"
        click.echo(f"/features/{spec.feature_name}: {state}")


def _print_sets(file: Path) -> None:
    infos = describe_features(file)
    if not infos:
        click.echo(f"{file}: no feature sets")
    for info in infos:
        n, c, s, _ = info.shape
        method = info.attrs.get("method", "unknown")
        line = (f"{info.name}: {n} x {c} x {s} x {s} ({', '.join(info.channels)}), "
                f"method {method}, normalisation {info.attrs.get('normalisation', 'unknown')}")
        if method in FLOW_METHODS and isinstance(info.attrs.get("params"), dict):
            line += f", {settings_text(method, info.attrs['params'])}"
        click.echo(line)


COMMANDS = [features_command]
