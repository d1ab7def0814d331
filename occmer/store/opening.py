"""The one gateway every occmer reader opens a file through.

Clip files (`OccmerFile`) and long-video files (`LongVideoFile`) open the same way: the path
must be a file (or an interrupted run's parts folder is named), h5py must read it, the root
header must pass, then the reader's own checks run; any failure closes the handle and raises
one StoreError naming the file. Keeping this in one place keeps the two readers' messages and
handle hygiene identical.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import h5py

from occmer.errors import StoreError
from occmer.store import checks
from occmer.store.checks import Bad
from occmer.store.writer import parts_dir

T = TypeVar("T")


def open_checked(path: Path, mode: str, require_complete: bool,
                 build: Callable[[h5py.File, checks.Header], T]) -> T:
    """Open PATH, check its header, and return `build(handle, header)`.

    `build` raises `Bad` for what its reader refuses; the handle is closed on every failure.
    """
    if not path.exists():
        hint = ""
        if parts_dir(path).exists():
            hint = f"; an interrupted run is in {parts_dir(path)}: rerun the same command with --resume"
        raise StoreError(f"file not found: {path}{hint}")
    if not path.is_file():
        raise StoreError(f"{path} is not a file")
    try:
        handle = h5py.File(path, mode)
    except Exception as exc:
        if mode != "r" and path.exists():
            raise StoreError(
                f"{path} cannot be opened for writing ({exc}); close every program that has it open "
                "(a reader, a training run) and rerun"
            ) from exc
        raise StoreError(f"{path} is not a readable HDF5 file ({exc})") from exc
    try:
        return build(handle, checks.header(handle, require_complete))
    except Bad as exc:
        handle.close()
        raise StoreError(f"{path}: {exc}") from None
    except BaseException:
        handle.close()
        raise


def file_contents(path: Path) -> str:
    """What an occmer file holds (root attribute contents: clips, features or long-videos), read from its
    header alone, so a command can pick the reader; StoreError naming the file when it is no occmer file."""

    def contents(handle: h5py.File, header: checks.Header) -> str:
        handle.close()
        return header.contents

    return open_checked(Path(path), "r", False, contents)


class OpenFile:
    """What an open reader shares: its path, its handle, and closing (also as a context manager)."""

    path: Path
    _f: h5py.File

    def close(self) -> None:
        self._f.close()

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
