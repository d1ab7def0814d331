"""Where occmer writes: output paths checked against inputs, one writer per output, and
operating-system write failures (disk full, read-only) as errors that say so.

- `check_output(out, inputs)`: an output never resolves to one of the command's inputs
  (nor do the OUT.parts / OUT.partial / OUT.lock paths next to it), and its folder can
  be created and written (not under a regular file, not on a read-only file system).
- `output_lock(out)`: OUT.lock names the holder's PID; a second run on the same OUT is
  refused while the first lives, and a lock left by a dead process is taken over with
  a message. The lock is an flock on the file, so the kernel releases it when the
  holder dies, whatever the PID in the file says.
- `write_failure(exc, path)`: an OSError from writing as an OccmerError naming the path
  and the cause (ENOSPC, EROFS, EACCES, ...).
"""

from __future__ import annotations

import errno
import os
import re
import socket
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from occmer.errors import ConfigError, OccmerError

LOCK_SUFFIX = ".lock"
DERIVED_SUFFIXES = (".parts", ".partial", LOCK_SUFFIX)  # files and folders written next to OUT


class OutputError(OccmerError):
    """An output that cannot be written: disk full, read-only, permission denied, locked."""


DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


_ERRNO_IN_TEXT = re.compile(r"errno = (\d+)")


def os_errno(exc: OSError) -> int | None:
    """The errno of an OSError; h5py puts it only in the message ("... errno = 28, ...")."""
    if exc.errno is not None:
        return exc.errno
    found = _ERRNO_IN_TEXT.search(str(exc))
    return int(found.group(1)) if found else None


def is_write_failure(exc: BaseException) -> bool:
    """Whether an exception is the operating system refusing a write (full, read-only, not a folder)."""
    return isinstance(exc, OSError) and os_errno(exc) in DISK_FULL | READ_ONLY | {errno.ENOTDIR}


def write_failure(exc: OSError, path: Path | str | None = None) -> OutputError:
    """The OutputError to raise for an OSError met while writing `path`."""
    where = exc.filename or path or "the output"
    code = os_errno(exc)
    if code in DISK_FULL:
        cause = "the disk is full (or a size quota was reached)"
        fix = "free space or choose an --out on another disk"
    elif code == errno.EROFS:
        cause = "the file system is read-only"
        fix = "choose an --out on a writable disk"
    elif code in (errno.EACCES, errno.EPERM):
        cause = "permission denied"
        fix = "choose an --out you may write to"
    elif code == errno.ENOTDIR:
        cause = "a part of the path is a file, not a folder"
        fix = "choose another --out"
    else:
        cause = exc.strerror or str(exc)
        fix = "check the path and the disk"
    return OutputError(f"cannot write {where}: {cause}; {fix} (nothing was marked complete)")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_output(
    out: Path | str, inputs: Iterable[Path | str] = (), *, option: str = "--out", derived: bool = True
) -> Path:
    """`out` resolved, after refusing an output that is (or would delete) one of `inputs`,
    and one whose folder cannot be written. `derived`: also check OUT.parts/.partial/.lock.

    Paths are compared resolved (symlinks followed) and, for existing files, by device and
    inode (a hard link to an input is that input).
    """
    resolved = Path(out).expanduser().resolve()
    targets = [resolved] + ([resolved.with_name(resolved.name + s) for s in DERIVED_SUFFIXES] if derived else [])
    existing = {ident: t for t in targets if (ident := _identity(t)) is not None}
    for item in inputs:
        source = Path(item).expanduser().resolve()
        for target in targets:
            hit = source == target or (target != resolved and target in source.parents)
            if not hit and existing:
                hit = existing.get(_identity(source) or (-1, -1)) == target
            if hit:
                what = "is" if target == resolved else f"would write {target.name} over"
                raise ConfigError(
                    f"{option} {out} {what} an input of this command ({source}); an output never replaces "
                    f"an input: choose another {option}"
                )
    _check_folder(resolved.parent, out, option)
    return resolved


def refuse_existing(out: Path | str, overwrite: bool, option: str = "--out") -> None:
    """The one rule for every output: an existing one is replaced only with --overwrite."""
    if Path(out).exists() and not overwrite:
        raise ConfigError(f"{option} {out} already exists; pass --overwrite to replace it or choose another {option}")


def _check_folder(folder: Path, out: Path | str, option: str) -> None:
    """The deepest existing ancestor of `folder` must be a writable folder."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ConfigError(f"{option} {out}: {existing} is a file, not a folder; choose another {option}")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        probe = OSError(errno.EROFS if _read_only_fs(existing) else errno.EACCES, "", str(existing))
        raise write_failure(probe, existing)


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def lock_path(out: Path | str) -> Path:
    out = Path(out).expanduser().resolve()
    return out.with_name(out.name + LOCK_SUFFIX)


def _holder(text: str) -> tuple[int | None, str]:
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        pid = int(fields.get("pid", ""))
    except ValueError:
        pid = None
    return pid, fields.get("host", "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def output_lock(out: Path | str, command: str = "", echo=None, wait: bool = False) -> Iterator[Path]:
    """Hold OUT.lock while the block runs; OutputError if another live run holds it
    (with `wait`, say so and wait for it instead: for caches that several runs share)."""
    import fcntl

    echo = echo or (lambda text: print(text, file=sys.stderr))
    path = lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_failure(exc, path) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, host = _holder(_read_fd(fd))
            holder = f"PID {pid}" + (f" on {host}" if host and host != socket.gethostname() else "") if pid else "another run"
            if wait:
                echo(f"waiting for {holder}, which is writing {out} (lock {path}) ...")
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                os.close(fd)
                raise OutputError(
                    f"{out} is being written by {holder} (lock {path}); wait for that run to finish or stop it, "
                    "or choose another --out"
                ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the lock file between our open and flock: try again
    try:
        pid, host = _holder(_read_fd(fd))
        if pid and pid != os.getpid():
            state = "no longer running" if not _alive(pid) or (host and host != socket.gethostname()) else "not holding it"
            echo(f"note: took over the stale lock {path} of PID {pid} ({state})")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid={os.getpid()}\nhost={socket.gethostname()}\ncommand={command}\n".encode(), 0)
    except OSError as exc:
        os.close(fd)
        raise write_failure(exc, path) from exc
    try:
        yield path
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)


def _read_fd(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return ""


SPACE_MARGIN = 16 * 2**20  # bytes kept free beyond an estimate (HDF5 metadata, other writers)


def ensure_space(folder: Path | str, nbytes: int, what: str, grows: Path | str | None = None) -> None:
    """OutputError unless `folder`'s disk has room for `nbytes` more (plus a margin) and the
    process's file-size limit allows it. Checked before HDF5 writes, because the HDF5 library
    does not fail cleanly on a full disk (it can crash the process while closing the file).
    `grows`: an existing file the bytes are added to (its size counts against the file-size limit).
    """
    import resource
    import shutil

    folder = Path(folder)
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    need = int(nbytes) + SPACE_MARGIN
    free = shutil.disk_usage(folder).free
    if free < need:
        raise OutputError(
            f"not enough space for {what}: about {need / 1e6:.0f} MB needed, {free / 1e6:.0f} MB free on the disk "
            f"of {folder}; free space or choose an --out on another disk (nothing was marked complete)"
        )
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    existing = Path(grows).stat().st_size if grows and Path(grows).exists() else 0
    if soft != resource.RLIM_INFINITY and existing + int(nbytes) > soft:
        raise OutputError(
            f"{what} would be about {(existing + nbytes) / 1e6:.1f} MB, over this process's file-size limit of "
            f"{soft / 1e6:.1f} MB (ulimit -f); raise the limit (nothing was marked complete)"
        )
