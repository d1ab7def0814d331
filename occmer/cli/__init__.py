"""The `occmer` command line: a click group whose subcommands live one per module here.

Every module in this package that defines `COMMANDS` (a list of click commands) is added
to the group. OccmerError becomes a one-line message and exit code 2, unless --debug.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from occmer import __version__
from occmer.errors import OccmerError

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class OccmerGroup(click.Group):
    """A group that turns OccmerError into a clean message instead of a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except OccmerError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(
                "interrupted: finished work is kept; rerun the same command (synthesize: add --resume)", err=True
            )
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=OccmerGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="occmer")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line error messages.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """occmer: synthetic occlusion and benchmarking for micro-expression recognition.

    Typical use: `occmer synthesize --db demo --mask glasses --out glasses.h5`, then
    `occmer verify glasses.h5` and `occmer inspect glasses.h5`.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _add_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


_add_commands()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="occmer")


if __name__ == "__main__":
    main()
    sys.exit(0)
