"""`occmer export`: an occmer file's features in the folder layouts other projects' code reads."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.cli.common import guarded_output
from occmer.export import LAYOUTS, export_file, refuse_current_folder
from occmer.protocols import PROTOCOLS

LAYOUT_HELP = ("ststnet-loso: STSTNet/HTNet's tree norm_u_v_os/<held-out subject>/u_train|u_test/<class code>/"
               "<subject>_<clip>.png of 28x28 u, v, strain images (red, green, blue; each plane min-max scaled to "
               "0..255 per image); flat: the same images in STSNet_whole_norm_u_v_os/; npy: one float32 (N, C, S, S) features.npy of the stored values "
               "(MEB-style). Each with samples.csv (database, subject, clip, label code, class) and export.json.")


@click.command("export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--layout", required=True, type=click.Choice(LAYOUTS), help=LAYOUT_HELP)
@click.option("--features", "feature", default=None,
              help="Feature set to export (default: flow_tvl1_28, else another 28x28 set, else the only one).")
@click.option("--protocol", type=click.Choice(list(PROTOCOLS)), default=None,
              help="Whose samples, folds and classes (from the file's /splits). Default: megc2019 where it applies "
                   "(STSTNet's setting), else loso.")
@click.option("--overwrite", is_flag=True, help="Replace the content of a non-empty OUTDIR.")
def export_command(file: Path, outdir: Path, layout: str, feature: str | None, protocol: str | None,
                   overwrite: bool) -> None:
    """Write FILE's features (any occmer file with a feature set, occluded or not) into OUTDIR in a
    layout the community's code reads unchanged, for the samples of one protocol.

    OUTDIR is built aside and renamed into place: it holds either its old content or the whole
    export. export.json says what was written and the `occmer import` command that reads it back.

    \b
    Examples:
      occmer export out/demo_glasses.h5 glasses_tree --layout ststnet-loso
      occmer export glasses.h5 glasses_npy --layout npy --protocol loso
    """
    refuse_current_folder(outdir)  # before OUTDIR.lock is written beside it
    with guarded_output(outdir, [file], option="OUTDIR"):  # OUTDIR.lock; a write failure names OUTDIR
        result = export_file(file, layout, outdir, feature=feature, protocol=protocol, overwrite=overwrite)
    for note in result.notes:
        click.echo(note)
    click.echo(f"wrote {result.out}: {result.n_samples} samples of protocol {result.protocol}, feature set "
               f"{result.feature}, {result.n_files} files ({result.layout})")


COMMANDS = [export_command]
