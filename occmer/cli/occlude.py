"""`occmer occlude`: occlude precomputed inputs (an `occmer import` file) on the faces they were computed on."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.cli.common import (
    command_line,
    guarded_output,
    occluder_options,
    occluder_settings,
    overwrite_option,
    seed_option,
    template_files,
    workers_option,
)
from occmer.cli.output import output_options
from occmer.errors import ConfigError
from occmer.progress import show_progress


@click.command("occlude")
@output_options
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--faces", "faces", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the face images the inputs were computed on (e.g. HTNet's combined_datasets_whole): "
                   "<subject>_<clip>.jpg, or the file names of --faces-column.")
@click.option("--faces-csv", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV naming each sample's face file (rows matched by database, subject and clip as in "
                   "`occmer import`), e.g. combined_3_class2_for_optical_flow.csv.")
@click.option("--faces-column", default=None, help="Column of --faces-csv holding the face file name (e.g. imagename).")
@click.option("--db-map", "db_map", multiple=True, metavar="NAME=OCCMER_NAME",
              help="Map --faces-csv's database names to occmer's (default: the map recorded at import).")
@occluder_options(default_mask="surgical")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The occmer file to write.")
@seed_option()
@click.option("--motion-model", type=click.Choice(["affine", "zero"]), default="affine", show_default=True,
              help="What moves under the occluder: affine = the affine motion fitted to the visible cells (strain "
                   "of that field), zero = no motion, no strain (docs/occlude.md).")
@click.option("--robust", is_flag=True, help="affine: refit without outlying cells (3 MADs), 3 times.")
@click.option("--no-face", type=click.Choice(["refuse", "keep-clean", "drop"]), default="refuse", show_default=True,
              help="A face image without landmarks: refuse (list them), keep-clean (unoccluded) or drop the sample.")
@click.option("--normalisation", type=click.Choice(["minmax-per-image", "minmax-per-channel", "none"]), default=None,
              help="The inputs' normalisation, when the file records 'unknown' or records it wrongly (default: the "
                   "recorded one; both are kept in the output's settings).")
@click.option("--feature", default=None, help="Feature set to occlude (default: the file's only one).")
@workers_option("Worker processes (parallel over samples).")
@overwrite_option("Replace --out if it exists (never the input).")
def occlude_command(source, faces, faces_csv, faces_column, db_map, mask, out, seed, motion_model, robust, no_face,
                    normalisation, feature, workers, overwrite, **occluder):
    """Occlude the inputs of SOURCE (a file made by `occmer import`) with occmer's occluders, placed on the
    face images the inputs were computed on exactly as `occmer synthesize` places them.

    \b
    Example (the public MEGC 2019 STSTNet inputs and HTNet's apex faces):
      occmer occlude flat.h5 --faces combined_datasets_whole \\
          --faces-csv combined_3_class2_for_optical_flow.csv --faces-column imagename \\
          --mask surgical --out flat_surgical.h5
    """
    from occmer.importing import parse_pairs
    from occmer.occlude import FaceLookup, OccludeSettings, occlude
    from occmer.protocols.splits import compute_splits

    if (faces_csv is None) != (faces_column is None):
        raise ConfigError("--faces-csv and --faces-column go together: the CSV and the column naming each face file")
    if occluder.get("mask_motion") == "skin" or occluder.get("hand_path") is not None:
        raise ConfigError("--mask-motion skin and --hand-path move the occluder over a clip's frames; an imported "
                          "input has one face image per sample: leave them out")
    options = occluder_settings(mask, occluder)
    settings = OccludeSettings(mask=mask, mask_options=options, seed=seed, motion_model=motion_model, robust=robust,
                               no_face=no_face, normalisation=normalisation, feature=feature)
    lookup = FaceLookup(faces, faces_csv, faces_column, parse_pairs(db_map, "--db-map"))
    inputs = [source, *(p for p in faces.iterdir() if p.is_file()), *([faces_csv] if faces_csv else []),
              *template_files(mask, occluder.get("choices"))]
    with guarded_output(out, inputs) as target:
        summary = occlude(source, lookup, target, settings, workers=workers, overwrite=overwrite,
                          progress=show_progress(), command=command_line(), recompute_splits=compute_splits)
    for note in summary.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(summary.line())


COMMANDS = [occlude_command]
