"""`occmer import`: turn the preprocessed inputs released with papers into an occmer file."""

from __future__ import annotations

from pathlib import Path

import click

from occmer.cli.common import guarded_output, overwrite_option
from occmer.importing import (
    LABEL_TARGETS,
    LAYOUTS,
    NORMALISATIONS,
    PIXEL_ORDERS,
    ImportOptions,
    import_inputs,
    parse_pairs,
)
from occmer.protocols.splits import compute_splits


@click.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--csv", "csv_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="One row per sample: database, subject, clip, label (column names guessed from common "
                   "spellings such as dataset/sub/filename_o; set them with --columns).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The occmer file to write.")
@click.option("--layout", type=click.Choice(LAYOUTS), default=None,
              help="flat: a folder of <subject>_<clip>.png images; maps: the same with four maps per sample "
                   "(<key>, <key>_1, <key>_2, <key>_3, CausalNet's release; channels named u, ..., u_1, ...); loso: <subject>/<train|test dir>/<class>/<image> "
                   "(every copy of a sample is checked identical); npy: an (N, C, S, S) array whose rows follow the "
                   "CSV. Default: guessed from SOURCE.")
@click.option("--channels", default="u,v,strain", show_default=True,
              help="Names of the image planes (in --pixel-order) or array channels, comma-separated.")
@click.option("--pixel-order", type=click.Choice(PIXEL_ORDERS), default="rgb", show_default=True,
              help="Order in which --channels names an image's colour planes: rgb (as a viewer shows them) or bgr "
                   "(as cv2.imread returns them).")
@click.option("--normalisation", type=click.Choice(list(NORMALISATIONS)),
              default="unknown", show_default=True,
              help="What the producer did to the values (recorded; occmer stores the values unchanged).")
@click.option("--labels", type=click.Choice(LABEL_TARGETS), default="megc2019",
              show_default=True, help="Label scheme the CSV's label column belongs to.")
@click.option("--label-map", "label_map", multiple=True, metavar="CODE=CLASS",
              help="Map label codes to class names (default for megc2019: 0=negative,1=positive,2=surprise; "
                   "objective: 1..7=I..VII).")
@click.option("--db-map", "db_map", multiple=True, metavar="NAME=OCCMER_NAME",
              help="Map the CSV's database names to occmer's (e.g. smic=smic-hs). A name occmer does not know "
                   "is an error: it is never guessed.")
@click.option("--columns", multiple=True, metavar="ROLE=COLUMN",
              help="CSV column per role (database, subject, clip, label), e.g. --columns clip=filename_o.")
@click.option("--feature-name", default=None, help="Name of the feature set (default imported_<size>).")
@click.option("--train-dir", default="train", show_default=True, help="loso: training folders contain this text.")
@click.option("--test-dir", default="test", show_default=True, help="loso: test folders contain this text.")
@overwrite_option("Replace --out if it exists (never an input).")
def import_command(source: Path, csv_path: Path, out: Path, layout: str | None, channels: str, pixel_order: str,
                   normalisation: str, labels: str, label_map: tuple[str, ...], db_map: tuple[str, ...],
                   columns: tuple[str, ...], feature_name: str | None, train_dir: str, test_dir: str,
                   overwrite: bool) -> None:
    """Import preprocessed inputs (SOURCE: a folder of images, a LOSO tree or a .npy array) into an
    occmer file with /samples and one feature set (no frames), ready for `occmer bench`.

    \b
    Examples (STSTNet's public MEGC 2019 inputs):
      occmer import STSNet_whole_norm_u_v_os --csv combined_3_class2_for_optical_flow.csv \\
          --db-map smic=smic-hs --normalisation minmax-per-image --out megc2019_ststnet.h5
      occmer import three_norm_u_v_os --layout loso --csv combined_3_class2_for_optical_flow.csv \\
          --db-map smic=smic-hs --normalisation minmax-per-image --out megc2019_ststnet_tree.h5
    """
    options = ImportOptions(
        channels=tuple(c.strip() for c in channels.split(",")), pixel_order=pixel_order, normalisation=normalisation,
        labels=labels, label_map=parse_pairs(label_map, "--label-map"), db_map=parse_pairs(db_map, "--db-map"),
        columns=parse_pairs(columns, "--columns"), feature_name=feature_name, train_dir=train_dir.lower(),
        test_dir=test_dir.lower(),
    )
    inputs = [csv_path, *(p for p in source.rglob("*") if p.is_file())] if source.is_dir() else [csv_path, source]
    with guarded_output(out, inputs) as target:  # never an input; OUT.lock: one writer at a time
        result = import_inputs(source, csv_path, target, options, layout=layout, overwrite=overwrite,
                               splits=compute_splits)
    for note in result.notes:
        click.echo(note)
    click.echo(f"wrote {result.out}: {result.n_samples} samples, feature set {result.feature} "
               f"(channels {', '.join(result.channels)})")


COMMANDS = [import_command]
