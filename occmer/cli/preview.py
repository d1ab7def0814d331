"""`occmer preview`: a contact sheet to judge occluder placement before (or after) a long run."""

from __future__ import annotations

import os
from pathlib import Path

import click

from occmer.cli.common import (
    crop_size_option,
    database_options,
    guarded_output,
    landmark_options,
    landmark_settings,
    load_clips,
    occluder_options,
    occluder_settings,
    overwrite_option,
    seed_option,
    template_files,
)
from occmer.cli.output import output_options
from occmer.errors import ConfigError, DataError
from occmer.outputs import check_output, refuse_existing


def _rows_from_synthesis(loaded, db, mask, options, n, seed, size, landmarks, landmarks_dir, apex, gif_side=0):
    """Synthesize n clips spread over the database: onset/apex/offset frames (sheet) or, with gif_side,
    every frame (GIF panels of that side)."""
    from occmer.pages.contact_sheet import choose_evenly, row_from_processed
    from occmer.pages.preview_gif import PREVIEW_FRAMES, panels_from_processed
    from occmer.pipeline import ClipProcessor, SynthesisSettings

    def make_row(processed):
        if not gif_side:
            return row_from_processed(processed)
        return panels_from_processed(processed, side=gif_side, max_frames=PREVIEW_FRAMES)

    landmarks, landmark_options_ = landmark_settings(landmarks, landmarks_dir)
    settings = SynthesisSettings(
        database=db, mask=mask, mask_options=options, seed=seed, size=size, frames="clip" if gif_side else "keyframes",
        landmarks=landmarks, landmark_options=landmark_options_, apex=apex,
    )
    by_id = {clip.sample_id: clip for clip in loaded.clips}
    processor = ClipProcessor(settings)
    rows = []
    try:
        for sid in choose_evenly(list(by_id), n):
            try:
                rows.append(make_row(processor.process(by_id[sid])))
            except DataError as exc:  # a clip without a face must not hide the others
                click.echo(f"skipped {sid}: {exc}", err=True)
    finally:
        processor.close()
    if not rows:
        raise DataError(f"none of the {min(n, len(by_id))} clips chosen from {db} could be processed (see above)")
    return rows


def _occluder_label(occluder) -> str:
    """The root `occluder` attribute (a spec string, or a dict with spec and options) as CLI flags."""
    if isinstance(occluder, dict):
        options = " ".join(f"--{k} {v}" for k, v in (occluder.get("options") or {}).items())
        return f"{occluder.get('spec', '?')} {options}".strip()
    return str(occluder or "?")


@click.command("preview")
@output_options
@database_options("Database to synthesize a preview of (as for `occmer synthesize`).")
@click.option("--from", "from_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Preview an existing occmer HDF5 file instead of synthesizing (no --db needed).")
@occluder_options(default_mask="block")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file: a PNG contact sheet, or with --gif an animated GIF (never one of the inputs).")
@overwrite_option("Replace OUT if it exists.")
@click.option("--gif", is_flag=True,
              help="Write an animated GIF instead (animated WebP if --out ends in .webp, 5-10x smaller): each "
                   "clip played onset to offset as a row of panels (clean | occluded | occluder alpha | flow "
                   "magnitude; no clean panel with --from, see `occmer inspect --html`), 16 frames, 64 colours.")
@click.option("--n", "n", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Number of clips (spread over the database).")
@seed_option("Global seed, as for synthesize.")
@crop_size_option()
@click.option("--thumb", type=click.IntRange(48, 512), default=None,
              help="Thumbnail side (px; default 160, with --gif 112 and at most 256).")
@landmark_options()
def preview_command(db, roots, from_file, mask, out, overwrite, gif, n, seed, size, thumb, landmarks, landmarks_dir, apex,
                    **occluder):
    """Draw a contact sheet of occluded clips to check the placement by eye.

    With --db: n clips spread over the database are synthesized exactly as `occmer
    synthesize` would place them (same seed, same onset placement; only the
    onset, apex and offset frames are read), and each row shows onset and apex,
    clean and occluded, with the clip's occlusion ratio. With --from: the clips of an
    existing file, with the stored occlusion map. With --gif: each clip plays onset to
    offset. An existing OUT is replaced only with --overwrite, and never when it is one
    of the inputs.

    \b
    Examples:
      occmer preview --db demo --mask glasses --out glasses.png
      occmer preview --db casme2 --root /data/CASME2 --mask surgical --n 12 --out surgical.png
      occmer preview --from demo_block.h5 --out block.png
      occmer preview --db demo --mask glasses --n 3 --gif --out glasses.gif
    """
    from occmer.pages.contact_sheet import render_sheet, rows_from_store, save_sheet
    from occmer.pages.preview_gif import PREVIEW_FRAMES, panels_from_store, write_preview_gif

    if (db is None) == (from_file is None):
        raise ConfigError("give exactly one of --db (synthesize a preview) or --from FILE.h5 (an existing file)")
    side = min(thumb or 112, 256)
    if from_file is not None:
        inputs = [from_file]
        check_output(out, inputs, derived=False)
        refuse_existing(out, overwrite)
        if gif:
            rows = panels_from_store(from_file, n, side=side, max_frames=PREVIEW_FRAMES)
            title = ""
        else:
            rows, attrs = rows_from_store(from_file, n)
            title = f"{from_file.name}: {attrs.get('database', '?')}, --mask {_occluder_label(attrs.get('occluder'))}"
    else:
        options = occluder_settings(mask, occluder)
        choices = occluder.get("choices")
        check_output(out, template_files(mask, choices), derived=False)
        refuse_existing(out, overwrite)
        loaded = load_clips(db, roots, apex, skip_invalid=True)
        inputs = [*loaded.input_files(), *template_files(mask, choices)]
        check_output(out, inputs, derived=False)
        rows = _rows_from_synthesis(loaded, db, mask, options, n, seed, size, landmarks, landmarks_dir, apex,
                                    gif_side=side if gif else 0)
        flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items())
        title = f"{db}: --mask {mask} {flags} (seed {seed})"
    with guarded_output(out, inputs) as target:
        refuse_existing(target, overwrite)
        tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
        try:
            if gif:
                write_preview_gif(rows, tmp)
            else:
                save_sheet(render_sheet(rows, title=title.strip(), thumb=thumb or 160), tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    text = f"wrote {out} ({len(rows)} clip{'' if len(rows) == 1 else 's'}"
    if gif:
        text += f", panels: {' | '.join(rows[0].titles)}, {Path(out).stat().st_size / 1024:.0f} KB"
    click.echo(text + ")")


COMMANDS = [preview_command]
