"""`occmer inspect` and `occmer verify`: look at and check an occmer HDF5 file."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def inspect_command(file: Path) -> None:
    """Print a summary of FILE: provenance, clips per class and subject, sizes, occlusion."""
    from occmer.store.inspect import summarize

    click.echo(summarize(file))


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
