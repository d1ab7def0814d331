"""`occmer preview`: a contact sheet to judge occluder placement before (or after) a long run."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.cli.common import mask_options
from occmer.cli.occluder_options import behaviour_options, occluder_behaviour_options
from occmer.errors import ConfigError, DataError, OccmerError


def _rows_from_synthesis(db, roots, mask, options, n, seed, size, landmarks, landmarks_dir, apex):
    """Synthesize the onset/apex/offset frames of n clips spread over the database."""
    from occmer.cli.common import load_clips
    from occmer.pipeline import ClipProcessor, SynthesisSettings
    from occmer.preview import choose_evenly, row_from_processed

    landmark_options = {"folder": str(Path(landmarks_dir).resolve())} if landmarks_dir else {}
    settings = SynthesisSettings(
        database=db, mask=mask, mask_options=options, seed=seed, size=size, frames="keyframes",
        landmarks=landmarks, landmark_options=landmark_options, apex=apex,
    )
    clips, _ = load_clips(db, roots, apex, skip_invalid=True)
    by_id = {clip.sample_id: clip for clip in clips}
    processor = ClipProcessor(settings)
    rows = []
    try:
        for sid in choose_evenly(list(by_id), n):
            try:
                rows.append(row_from_processed(processor.process(by_id[sid])))
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
@click.option("--db", default=None, help="Database to synthesize a preview of (as for `occmer synthesize`).")
@click.option("--root", "roots", multiple=True, help="Database folder (NAME=PATH with several databases).")
@click.option("--from", "from_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Preview an existing occmer HDF5 file instead of synthesizing (no --db needed).")
@click.option("--mask", default="block", show_default=True,
              help="Occluder: block, glasses, sunglasses, surgical, n95, cloth, hand, random, custom:PATH.json, none.")
@occluder_behaviour_options
@click.option("--coverage", type=float, default=None, help="block: fraction of the face region to cover (0-1).")
@click.option("--region", default=None, help="block: eyes, mouth, nose, upper, lower or any.")
@click.option("--fill", default=None, help="block: black, gray, noise or mean.")
@click.option("--variant", default=None, help="Template variant (default: one drawn per clip).")
@click.option("--choices", default=None, help="random: comma-separated occluders to draw from.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output PNG file.")
@click.option("--n", "n", type=int, default=8, show_default=True, help="Number of clips (spread over the database).")
@click.option("--seed", type=int, default=0, show_default=True, help="Global seed, as for synthesize.")
@click.option("--size", type=int, default=224, show_default=True, help="Side of the aligned face crop (px).")
@click.option("--thumb", type=click.IntRange(48, 512), default=160, show_default=True, help="Thumbnail side (px).")
@click.option("--landmarks", default="mediapipe", show_default=True, help="Landmark backend.")
@click.option("--landmarks-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="file backend: folder of per-clip landmark files.")
@click.option("--apex", type=click.Choice(["midpoint", "flow"]), default="midpoint", show_default=True,
              help="How a missing apex is filled.")
def preview_command(db, roots, from_file, mask, shading, mask_motion, hand_path, coverage, region, fill, variant,
                    choices, out, n, seed, size, thumb, landmarks, landmarks_dir, apex):
    """Draw a contact sheet of occluded clips to check the placement by eye.

    With --db: n clips spread over the database are synthesized exactly as `occmer
    synthesize` would place them (same seed, same onset placement; only the
    onset, apex and offset frames are read), and each row shows onset and apex,
    clean and occluded, with the clip's occlusion ratio. With --from: the clips of an
    existing file, with the stored occlusion map.

    \b
    Examples:
      occmer preview --db demo --mask glasses --out glasses.png
      occmer preview --db casme2 --root /data/CASME2 --mask surgical --n 12 --out surgical.png
      occmer preview --from demo_block.h5 --out block.png
    """
    from occmer.preview import render_sheet, rows_from_store, save_sheet

    if (db is None) == (from_file is None):
        raise ConfigError("give exactly one of --db (synthesize a preview) or --from FILE.h5 (an existing file)")
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    if from_file is not None:
        rows, attrs = rows_from_store(from_file, n)
        title = f"{from_file.name}: {attrs.get('database', '?')}, --mask {_occluder_label(attrs.get('occluder'))}"
    else:
        options = {**mask_options(coverage, region, fill, variant, choices),
                   **behaviour_options(mask, shading, mask_motion, hand_path)}
        rows = _rows_from_synthesis(db, roots, mask, options, n, seed, size, landmarks, landmarks_dir, apex)
        flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items())
        title = f"{db}: --mask {mask} {flags} (seed {seed})"
    try:
        path = save_sheet(render_sheet(rows, title=title.strip(), thumb=thumb), out)
    except OSError as exc:
        raise OccmerError(f"cannot write {out}: {exc.strerror}") from exc
    click.echo(f"wrote {path} ({len(rows)} clip{'' if len(rows) == 1 else 's'})")


COMMANDS = [preview_command]
