"""The `occmer` command line: a click group whose subcommands live one per module here.

Every module in this package that defines `COMMANDS` (a list of click commands) is added
to the group. OccmerError becomes a one-line message and exit code 2, any other exception a
one-line "internal error" and exit code 3; tracebacks only with --debug.
"""

from __future__ import annotations

import importlib
import pkgutil
import shlex
import sys

import click

from occmer import __version__
from occmer.errors import OccmerError
from occmer.outputs import is_write_failure, write_failure

EXIT_ERROR = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130
ARGS_SHOWN = 300  # characters of the command line repeated in an internal-error message


class OccmerGroup(click.Group):
    """A group that never shows a traceback unless --debug.

    OccmerError and click usage errors: one line, exit 2. An OSError (disk full, read-only,
    a path that is a file): one line naming the path, exit 2. Anything else is a bug: one
    line naming the command and its arguments, asking for a report with --debug, exit 3.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["occmer.argv"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except click.UsageError as exc:
            path = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            message = exc.format_message().replace("\n", " ")
            _fail(ctx, f"error: {path}: {message} (see `{path} --help`)", EXIT_ERROR)
        except OccmerError as exc:
            _fail(ctx, f"error: {exc}", EXIT_ERROR)
        except KeyboardInterrupt:
            _fail(ctx, "interrupted: finished work is kept; rerun the same command (synthesize: add --resume)",
                  EXIT_INTERRUPTED)
        except OSError as exc:
            _fail(ctx, f"error: {write_failure(exc) if is_write_failure(exc) else _os_message(exc)}", EXIT_ERROR)
        except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into a message
            argv = ctx.meta.get("occmer.argv", [])
            command = argv[0] if argv else "?"
            shown = " ".join(shlex.quote(a) for a in argv[1:])
            if len(shown) > ARGS_SHOWN:
                shown = shown[:ARGS_SHOWN] + " ..."
            detail = " ".join(str(exc).split())[:ARGS_SHOWN] or "no message"
            _fail(ctx, f"internal error in `occmer {command}` (arguments: {shown or 'none'}): "
                       f"{type(exc).__name__}: {detail}; please report this with --debug", EXIT_BUG)


def _fail(ctx: click.Context, message: str, code: int) -> None:
    """Print one line (re-raise under --debug) and exit with `code`."""
    if ctx.obj and ctx.obj.get("debug"):
        raise
    click.echo(message, err=True)
    ctx.exit(code)


def _os_message(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"cannot access{where}: {exc.strerror or exc}"


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
