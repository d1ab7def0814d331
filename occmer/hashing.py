"""sha256 of a file, streamed: the one checksum occmer records for inputs it read (data files,
checkpoints, face images, source files of a run)."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex sha256 of the file's bytes, read in 1 MiB blocks so memory stays flat on large files."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()
