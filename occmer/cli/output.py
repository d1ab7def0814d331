"""--no-progress, --quiet and --verbose: the same three output options on every command."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from occmer import progress


def output_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --no-progress/--quiet/--verbose to a click command function and apply them before it runs.

    Place it under `@click.command(...)` (it must run before click builds the command).
    The command reads the choice through `occmer.progress` (show_progress, info, detail).
    """

    @functools.wraps(command)
    def wrapper(*args: Any, no_progress: bool, quiet: bool, verbose: bool, **kwargs: Any) -> Any:
        if quiet and verbose:
            raise click.UsageError("--quiet and --verbose exclude each other")
        progress.configure(progress=not no_progress, verbosity=-1 if quiet else (1 if verbose else 0))
        return command(*args, **kwargs)

    wrapper = click.option("--verbose", "-v", is_flag=True,
                           help="Print more: one line per item (clip, fold) as it finishes.")(wrapper)
    wrapper = click.option("--quiet", "-q", is_flag=True,
                           help="Print only the final summary line, warnings and errors (no progress).")(wrapper)
    wrapper = click.option("--no-progress", is_flag=True,
                           help="No progress display. (On a terminal it is a bar; in a log or a pipe, one line "
                                "every 30 s or 10 %, set OCCMER_PROGRESS_SECONDS to change the interval.)")(wrapper)
    return wrapper
