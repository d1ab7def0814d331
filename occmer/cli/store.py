"""`occmer inspect` and `occmer verify`: look at and check an occmer HDF5 file."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.cli.common import guarded_output, overwrite_option
from occmer.cli.output import output_options
from occmer.progress import info, show_progress


@click.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--html", "html", is_flag=True,
              help="Also write a self-contained HTML page: provenance, counts, occlusion-ratio histogram and "
                   "animated clips (onset to offset: clean | occluded | occluder alpha | flow magnitude); for a long-video "
                   "file, one video played over its true and spotted intervals.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="--html: the page to write (default: FILE's name with _inspect.html, beside FILE).")
@click.option("--per-class", type=click.IntRange(1, 20), default=2, show_default=True,
              help="--html: animated clips per class, from different subjects where possible.")
@click.option("--clean/--no-clean", default=True, show_default=True,
              help="--html: show the clean frames, recovered by re-running the file's synthesis on its source "
                   "database (demo: always available; others: --root or the database's environment variable) "
                   "and kept only when the occluded frames match the stored ones bit for bit.")
@click.option("--root", "roots", multiple=True, help="--html --clean: source database folder (NAME=PATH if several).")
@click.option("--template", "templates", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="--html --clean: the custom template a file made with --mask custom:PATH was synthesized with "
                   "(a path stored in a file is never opened on the file's word; repeat for several).")
@click.option("--landmarks-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="--html --clean: the landmark folder a file made with --landmarks file:FOLDER was synthesized with.")
@click.option("--panel", type=click.IntRange(48, 256), default=128, show_default=True,
              help="--html: side of each animated panel (px); a long video's frame is shown at twice this.")
@click.option("--video", "video_id", default=None,
              help="--html, long-video file: the video the page shows (default: the file's first).")
@click.option("--spots", type=click.Path(exists=True, path_type=Path), default=None,
              help="--html, long-video file: the spotted intervals from an `occmer spot OUT --data FILE` run "
                   "(OUT or OUT/spotting.json) instead of running the baseline spotter on the video.")
@overwrite_option("--html: replace an existing --out page.")
@output_options
def inspect_command(file: Path, html: bool, out: Path | None, per_class: int, clean: bool, roots: tuple[str, ...],
                    templates: tuple[Path, ...], landmarks_dir: Path | None, panel: int, video_id: str | None,
                    spots: Path | None, overwrite: bool) -> None:
    """Print a summary of FILE: provenance, clips per class and subject, sizes, occlusion.

    A long-video file (`occmer synthesize --db demo-long`): provenance and settings, each
    video's subject, frames, fps, length, size, micro/macro intervals and face track, totals.

    With --html, also write one HTML page to look at the file (no network or JavaScript
    needed) and print its path. For a long-video file the page plays 20 s of one video over
    its timeline, the true intervals and the spotted ones marked TP/FP/FN (MEGC, IoU >= 0.5):
    spotted by the MEGC baseline on that video with its published, untuned settings, or read
    from an `occmer spot --data FILE` run with --spots. The clip-page options (--per-class,
    --clean, --root, --template, --landmarks-dir) are refused for a long-video file.

    \b
    Examples:
      occmer inspect out/demo_glasses.h5
      occmer inspect out/demo_glasses.h5 --html            # out/demo_glasses_inspect.html
      occmer inspect casme2_mask.h5 --html --root /data/CASME2 --per-class 3
      occmer inspect long_glasses.h5 --html --video demo-long_s02
      occmer inspect long_glasses.h5 --html --spots spot_glasses   # OUT of `occmer spot ... --data`
    """
    from occmer.store import schema
    from occmer.store.inspect import summarize_clips, summarize_long
    from occmer.store.opening import file_contents

    long_file = file_contents(file) == schema.LONG_VIDEOS  # read once: it picks the summary and the page
    _refuse_misplaced_options(long_file, html)
    summary = (summarize_long if long_file else summarize_clips)(file)
    if not html:
        click.echo(summary)
        return
    info(summary)  # with --html the page is the result: --quiet prints only its path
    if long_file:
        _write_long_page(file, out, video_id, spots, panel, overwrite)
        return
    from occmer.outputs import refuse_existing
    from occmer.pages.clean import UserPaths, recover_clean_frames
    from occmer.pages.inspect_page import render_inspect_html

    target = out or file.with_name(f"{file.stem}_inspect.html")
    paths = UserPaths(tuple(templates), landmarks_dir)

    def clean_source(attrs, stored):
        return recover_clean_frames(attrs, stored, roots, progress=show_progress(), paths=paths)

    with guarded_output(target, [file, *templates]) as resolved:
        refuse_existing(resolved, overwrite)
        page = render_inspect_html(file, target, per_class=per_class, clean_source=clean_source if clean else None,
                                   side=panel, echo=info)
    click.echo(f"wrote {page}")


CLIP_PAGE_OPTIONS = ("per_class", "clean", "roots", "templates", "landmarks_dir")
LONG_PAGE_OPTIONS = ("video_id", "spots")


def _given(ctx: click.Context, names: tuple[str, ...]) -> list[str]:
    """The options among `names` the user wrote (not left at their defaults), as flags."""
    flags = {p.name: p.opts[0] for p in ctx.command.params}
    return [flags[n] for n in names if ctx.get_parameter_source(n) not in (None, click.core.ParameterSource.DEFAULT)]


def _refuse_misplaced_options(long_file: bool, html: bool) -> None:
    """Clip-page options on a long-video file, or long-video options on a clip file or without --html: a usage error."""
    ctx = click.get_current_context()
    wrong = _given(ctx, CLIP_PAGE_OPTIONS if long_file else LONG_PAGE_OPTIONS)
    if wrong:
        what = "a long-video file (they shape the clip page)" if long_file else "a clip file (they shape a long-video page)"
        raise click.UsageError(f"{', '.join(wrong)}: not for {what}; leave them out")
    if long_file and not html and _given(ctx, LONG_PAGE_OPTIONS):
        raise click.UsageError(f"{', '.join(_given(ctx, LONG_PAGE_OPTIONS))}: only shape the --html page; add --html")


def _write_long_page(file: Path, out: Path | None, video_id: str | None, spots: Path | None, panel: int,
                     overwrite: bool) -> None:
    from occmer.outputs import refuse_existing
    from occmer.progress import show_progress
    from occmer.spotting.page import write_long_inspect_page

    target = out or file.with_name(f"{file.stem}_inspect.html")
    with guarded_output(target, [file, *([spots] if spots is not None and spots.is_file() else [])]) as resolved:
        refuse_existing(resolved, overwrite)
        page = write_long_inspect_page(file, target, video_id, spots, side=panel, progress=show_progress())
    click.echo(f"wrote {page}")


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quick", is_flag=True, help="Check structure and shapes only; do not decode every frame (feature values are still checked).")
def verify_command(files: tuple[Path, ...], quick: bool) -> None:
    """Check that each FILE is a complete, consistent occmer file (exit 1 naming each problem).

    Runs every check occmer's readers run (docs/security.md): root attributes with exact types,
    no links, external storage or virtual datasets anywhere, /samples ids and columns, every
    clip's shapes against /samples and the size limits, feature sets' rows and finite values.
    """
    from occmer.store.verify import verify_store

    failed = False
    for file in files:
        problems = verify_store(file, read_data=not quick)
        if problems:
            failed = True
            click.echo(f"{file}: {len(problems)} problems", err=True)
            for problem in problems:
                click.echo(f"  - {problem}", err=True)
        else:
            click.echo(f"{file}: ok")
    if failed:
        raise SystemExit(1)


COMMANDS = [inspect_command, verify_command]
