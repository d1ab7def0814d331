"""Helpers shared by the commands that read databases (synthesize, preview)."""

from __future__ import annotations

import click

from occmer.errors import DataError


def mask_options(coverage, region, fill, variant, choices) -> dict:
    """The occluder options given on the command line (unset ones left to the occluder)."""
    options = {"coverage": coverage, "region": region, "fill": fill, "variant": variant}
    if choices:
        options["choices"] = [c.strip() for c in choices.split(",") if c.strip()]
    return {k: v for k, v in options.items() if v is not None}


def load_clips(db: str, roots: tuple[str, ...], apex: str, skip_invalid: bool, progress: bool = True,
               offset_policy: str = "mirror", follow_symlinks: bool = False):
    """Scan the databases named by `db`; stop on problems unless skip_invalid."""
    from occmer.databases.resolve import resolve_databases, scan_all
    from occmer.demo import demo_fallback_roots

    databases = resolve_databases(db, roots, apex_policy=apex, fallback_roots=demo_fallback_roots(db, roots, progress),
                                  offset_policy=offset_policy, follow_symlinks=follow_symlinks)
    result = scan_all(databases)
    invalid = [{"sample_id": p.sample_id, "reason": f"{p.message} ({p.path})"} for p in result.problems]
    if result.problems and not skip_invalid:
        listing = "\n".join(f"  - {p}" for p in result.problems)
        raise DataError(
            f"{len(result.problems)} problems in {db} (nothing was written):\n{listing}\n"
            "fix them, or pass --skip-invalid to leave those clips out (they are recorded in the output)"
        )
    for p in result.problems:
        click.echo(f"skipping invalid clip {p}", err=True)
    if result.problems:
        from occmer.databases.summary import left_out_lines

        for line in left_out_lines(result.problems):
            click.echo(line, err=True)
    return result.clips, invalid
