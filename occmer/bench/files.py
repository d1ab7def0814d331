"""File names and atomic writes shared by the runner and the report."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.json"
FOLDS_DIR = "folds"


def safe_name(text: str) -> str:
    """A file-system name for a condition, cell or fold label ("casme2/sub01" -> "casme2__sub01")."""
    return text.replace("->", "__to__").replace("/", "__").replace(os.sep, "__")


def fold_record_path(out: Path, model: str, condition: str, seed: int, fold: str) -> Path:
    """Where a run directory keeps the predictions of one (model, condition, seed, fold)."""
    return out / FOLDS_DIR / safe_name(model) / safe_name(condition) / f"seed{seed}" / f"{safe_name(fold)}.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON next to `path` then rename, so a killed run never leaves a half-written result.

    The file gets the mode of any other file the user writes (0644 under the usual umask), not
    the 0600 of a temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, indent=1, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
