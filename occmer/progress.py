"""One progress display for every long command: a live bar on a terminal, plain lines in a log.

A tqdm bar redraws itself with carriage returns; written into a log file or CI output that
is hundreds of KB of frames per run. So `Progress` draws the bar only when its stream is a
terminal and otherwise prints one line every `interval_s` seconds or every `step_percent` of
the work (whichever comes first), plus one line when the work ends.

The command line sets the user's choice once (`configure`: --no-progress, --quiet,
--verbose); library code asks for a bar with `progress_bar(...)` and prints with `info`
(hidden by --quiet) and `detail` (shown by --verbose only).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

INTERVAL_ENV = "OCCMER_PROGRESS_SECONDS"


@dataclass
class OutputSettings:
    """What the user asked for on the command line (module-wide, reset by every command)."""

    progress: bool = True
    verbosity: int = 0  # -1 quiet, 0 normal, 1 verbose
    interval_s: float = 30.0
    step_percent: float = 10.0
    started: float | None = None  # time.monotonic() when the command began (None outside a command)


_SETTINGS = OutputSettings()


def configure(*, progress: bool = True, verbosity: int = 0) -> OutputSettings:
    """Set the output choices of this process (called by each command before it runs)."""
    global _SETTINGS
    interval = 30.0
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if text:
        try:
            interval = max(0.5, float(text))
        except ValueError:
            interval = 30.0
    _SETTINGS = OutputSettings(progress=progress and verbosity >= 0, verbosity=verbosity, interval_s=interval,
                               started=time.monotonic())
    return _SETTINGS


def command_seconds(fallback: float) -> float:
    """Wall time of the running command (since `configure`), so a summary line says what the
    user waited, not one stage of it; `fallback` (the stage's own time) outside a command."""
    return fallback if _SETTINGS.started is None else max(fallback, time.monotonic() - _SETTINGS.started)


def size_text(n_bytes: float) -> str:
    """One way to write a file size in every output: decimal units (1 MB = 1,000,000 bytes, as
    `ls --si` and file managers count), one decimal."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n_bytes) < 1000 or unit == "GB":
            return f"{n_bytes:.0f} B" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.1f} GB"


def settings() -> OutputSettings:
    return _SETTINGS


def show_progress() -> bool:
    return _SETTINGS.progress


def is_quiet() -> bool:
    return _SETTINGS.verbosity < 0


def is_verbose() -> bool:
    return _SETTINGS.verbosity > 0


def info(message: str) -> None:
    """A normal message on stdout (hidden by --quiet)."""
    if not is_quiet():
        print(message, flush=True)


def detail(message: str) -> None:
    """A message for --verbose only."""
    if is_verbose():
        print(message, flush=True)


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """A progress display with tqdm's small API (update, set_postfix, write, close).

    `interactive=None` decides from the stream: a terminal gets a tqdm bar, anything else
    (a file, a pipe, CI) gets plain lines. Disabled: nothing is drawn, `write` still prints.
    """

    def __init__(self, total: int, desc: str, unit: str = "item", *, initial: int = 0, enabled: bool = True,
                 stream: IO[str] | None = None, interactive: bool | None = None, leave: bool = True) -> None:
        self.total = int(total)
        self.desc = desc
        self.unit = unit
        self.n = int(initial)
        self.enabled = bool(enabled) and _SETTINGS.progress
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = _is_terminal(self.stream) if interactive is None else interactive
        self.postfix: dict[str, Any] = {}
        self._start = time.monotonic()
        self._initial = self.n
        self._last_line = self._start
        self._last_percent = self._percent()
        self._bar = None
        self._closed = False
        if self.enabled and self.interactive:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, initial=self.n, desc=desc, unit=unit, file=self.stream, leave=leave)

    # -- tqdm-compatible API -------------------------------------------------

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled and not self.interactive:
            self._maybe_line()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = values
        if self._bar is not None:
            self._bar.set_postfix(**values)

    def write(self, message: str) -> None:
        """A message that does not break the bar (stdout)."""
        if self._bar is not None:
            self._bar.write(message, file=sys.stdout)
        else:
            print(message, flush=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and not self.interactive and self.n > self._initial:
            self._emit(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plain lines -----------------------------------------------------------

    def _percent(self) -> float:
        return 100.0 * self.n / self.total if self.total > 0 else 0.0

    def _maybe_line(self) -> None:
        now = time.monotonic()
        percent = self._percent()
        if self.n >= self.total:
            return  # the closing line reports the end
        if now - self._last_line >= _SETTINGS.interval_s or percent - self._last_percent >= _SETTINGS.step_percent:
            self._emit()

    def line(self, final: bool = False) -> str:
        """The text of one progress line (also used by tests)."""
        elapsed = time.monotonic() - self._start
        done_here = self.n - self._initial
        rate = done_here / elapsed if elapsed > 0 else 0.0
        units = self.unit if self.unit.endswith("s") else self.unit + "s"
        extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
        if final:
            return f"{self.desc}: {self.n}/{self.total} {units} done in {_duration(elapsed)} ({rate:.2f} {units}/s){extra}"
        left = (self.total - self.n) / rate if rate > 0 else float("nan")
        eta = f", about {_duration(left)} left" if left == left else ""
        return (f"{self.desc}: {self.n}/{self.total} {units} ({self._percent():.0f}%), {rate:.2f} {units}/s, "
                f"{_duration(elapsed)} elapsed{eta}{extra}")

    def _emit(self, final: bool = False) -> None:
        self._last_line = time.monotonic()
        self._last_percent = self._percent()
        print(self.line(final), file=self.stream, flush=True)


def progress_bar(total: int, desc: str, unit: str = "item", *, initial: int = 0, enabled: bool = True,
                 leave: bool = True) -> Progress:
    """The progress display every occmer command uses (see the module docstring)."""
    return Progress(total, desc, unit, initial=initial, enabled=enabled, leave=leave)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
