"""`occmer splits`: store every protocol's folds in a file (for files written before /splits existed)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("splits")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Recompute splits the file already stores (with this occmer's "
                                                  "protocols and official lists).")
@click.option("--list", "list_only", is_flag=True, help="Only list the splits FILE stores.")
def splits_command(file: Path, overwrite: bool, list_only: bool) -> None:
    """Compute the folds of every protocol that applies to FILE's data and store them under
    /splits/<protocol>/ (loso always; megc2018-cde, megc2018-hde, megc2019 when the file holds
    their databases), so that MATLAB, R, h5py or another framework read the same folds as
    `occmer bench` (docs/hdf5-format.md). `synthesize` and `import` write them already; this is
    for older files. The file is changed in one step: the new /splits replaces the old at once.

    Example: occmer splits glasses.h5
    """
    from occmer.cli.common import guarded_output
    from occmer.protocols.splits import add_splits
    from occmer.store import OccmerFile

    if not list_only:
        with guarded_output(file, option="FILE"):  # FILE.lock: not beside a running `features` or `splits`
            add_splits(file, overwrite=overwrite)
    with OccmerFile.open(file) as f:
        names = f.split_names()
        if not names:
            click.echo(f"{file}: no splits stored; run `occmer splits {file}`")
        for name in names:
            split = f.split(name)
            source = "official list" if split.official else "published rules"
            click.echo(f"/splits/{name}: {len(split.members)} samples in {len(split.fold_names)} folds, "
                       f"labels {split.label_scheme} ({', '.join(split.class_names)}), membership: {source}")


COMMANDS = [splits_command]
