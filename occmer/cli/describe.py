"""`occmer describe`: read a database as `synthesize` would, print what is there, write nothing."""

from __future__ import annotations

import click

from occmer.cli.common import apex_option, database_input_options, database_options
from occmer.errors import DataError
from occmer.labels import LABEL_SCHEMES
from occmer.protocols import PROTOCOLS, get_protocol, protocol_scheme


def _env_help() -> str:
    from occmer.databases import DATABASES

    by_var: dict[str, list[str]] = {}
    for name, cls in sorted(DATABASES.items()):
        if cls.env_var:
            by_var.setdefault(cls.env_var, []).append(name)
    listed = ", ".join(f"{var} ({', '.join(names)})" for var, names in sorted(by_var.items()))
    return f"Root environment variables: {listed}."


def _list_databases() -> str:
    from occmer.databases import DATABASES
    from occmer.databases.long_video import LONG_VIDEO_DATABASES

    lines = []
    for name, cls in sorted(DATABASES.items()):
        env = f"  env: {cls.env_var}" if cls.env_var else ""
        lines.append(f"{name:9s} {cls.description} [{cls.published_size}]{env}\n          layout: {cls.layout}")
    lines.append("\nlong videos (spotting; --root required):")
    for name, long_cls in sorted(LONG_VIDEO_DATABASES.items()):
        layout = getattr(long_cls, "layout", "")
        lines.append(f"{name} {long_cls.description}" + (f"\n          layout: {layout}" if layout else ""))
    return "\n".join(lines)


def _describe_long(name: str, roots: tuple[str, ...], follow_symlinks: bool, strict: bool) -> None:
    """describe for a long-video release: videos, frames, micro/macro counts per video, notes and problems."""
    from pathlib import Path

    from occmer.databases.long_video import get_long_database
    from occmer.databases.summary import format_long_summary, summarise_long
    from occmer.errors import ConfigError

    paths = [value.partition("=")[2] if value.lower().startswith(f"{name}=") else value for value in roots]
    if len(paths) != 1:
        raise ConfigError(f"--db {name} reads one long-video release: pass its folder as --root PATH")
    root = Path(paths[0]).expanduser()
    if not root.is_dir():
        raise DataError(f"root folder of {name} not found: {root}")
    database = get_long_database(name, root, follow_symlinks=follow_symlinks)
    scan = database.scan()
    click.echo(f"{name}: {database.root} ({database.description})")
    click.echo(format_long_summary(summarise_long(name, scan)))
    if strict and scan.problems:
        raise DataError(f"{len(scan.problems)} problems in {name} (listed above); fix them or run without --strict")


@click.command("describe", epilog=_env_help())
@database_options("Database name, or several joined by '+' (casme2+samm, smic-hs+casme2+samm).", default="demo",
                  root_default="the environment variable of each database (see below)")
@click.option("--labels", "scheme", type=click.Choice(sorted(LABEL_SCHEMES)), default="emotion", show_default=True,
              help="Label scheme of the class counts.")
@apex_option("How a missing apex is filled (flow reads the frames of those clips).")
@database_input_options()
@click.option("--protocol", default=None, type=click.Choice([n for n, p in PROTOCOLS.items() if p.official]),
              help="Report membership of a MEGC protocol: the official list's clips present or missing by name, "
                   "and what the protocol leaves out per database and reason (sets --labels to the protocol's).")
@click.option("--strict", is_flag=True, help="Exit with an error (code 2) when any problem is found.")
@click.option("--list", "list_only", is_flag=True, help="List the supported databases and their layouts, then exit.")
def describe_command(db: str, roots: tuple[str, ...], scheme: str, apex: str, offset_policy: str, follow_symlinks: bool,
                     protocol: str | None, strict: bool, list_only: bool) -> None:
    """Pre-flight check: read a database without writing anything.

    Prints the clips per class and subject under the chosen label scheme, frame counts,
    how each apex was obtained, the annotation fixes applied and every problem found
    (a row whose folder or frames are missing, a folder outside the root, frames missing inside
    onset..offset, frames of mixed size or colour mode, a duplicated row, onset <= apex <= offset
    violated). `synthesize` runs the same checks before writing. AU tokens the AU grammar cannot
    read are listed (they are kept verbatim).

    \b
    Examples:
      occmer describe --list
      occmer describe --db casme2 --root /data/CASME2 --labels objective
      occmer describe --db smic-hs+casme2+samm --root smic-hs=/data/SMIC --root casme2=/data/CASME2 \\
          --root samm=/data/SAMM --protocol megc2019
    """
    if list_only:
        click.echo(_list_databases())
        return
    from occmer.databases.long_video import LONG_VIDEO_DATABASES

    if db.strip().lower() in LONG_VIDEO_DATABASES:
        _describe_long(db.strip().lower(), roots, follow_symlinks, strict)
        return
    from occmer.databases.resolve import resolve_databases, scan_all
    from occmer.databases.summary import format_databases, format_summary, summarise
    from occmer.demo import demo_fallback_roots

    databases = resolve_databases(db, roots, apex_policy=apex, fallback_roots=demo_fallback_roots(db, roots),
                                  offset_policy=offset_policy, follow_symlinks=follow_symlinks)
    result = scan_all(databases)
    lines = []
    if protocol is not None:
        scheme, lines = _membership_lines(result.clips, protocol)
    click.echo(format_databases(databases))
    click.echo(format_summary(summarise(result, scheme)))
    if lines:
        click.echo("")
        click.echo("\n".join(lines))
    if strict and result.problems:
        raise DataError(f"{len(result.problems)} problems in {db} (listed above); fix them or run without --strict")


def _membership_lines(clips, protocol_name: str) -> tuple[str, list[str]]:
    """The protocol's label scheme and its membership report for the clips read."""
    import pandas as pd

    from occmer.labels import label_of

    protocol = get_protocol(protocol_name)
    scheme = protocol_scheme(protocol)
    table = pd.DataFrame(
        [{"sample_id": c.sample_id, "database": c.database, "subject": c.subject, "filename": c.filename,
          "label": label_of(c, scheme)} for c in clips],
        columns=["sample_id", "database", "subject", "filename", "label"],
    )
    return scheme, protocol.membership(table).lines()


COMMANDS = [describe_command]
