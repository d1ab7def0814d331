"""Fingerprint of what occmer writes on a tiny demo: the refactor-equality check (issue 24).

Runs the command line only (`python -m occmer`), so the check does not depend on where code
lives: demo-db -> synthesize (glasses, surgical with --features) -> features -> bench (two
models, LOSO, a few epochs) and hashes every HDF5 dataset and every data attribute (provenance
that legitimately changes run to run - times, the command line, paths - is left out), the
bench's table.md and fold predictions.

    python tests/golden/fingerprint.py OUT_DIR > fingerprint.json
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

# Attributes that record when/where/how a file was made, not what it holds.
PROVENANCE = {"created_utc", "command", "imported_from", "occmer_version", "host", "elapsed_s",
              "root", "roots", "source", "source_path", "started_utc", "finished_utc", "python",
              "cache", "out", "data"}


def _occmer(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OCCMER_PROGRESS_SECONDS": "3600"}
    subprocess.run([sys.executable, "-m", "occmer", *args, "--no-progress"], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def _digest(value) -> str:
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()[:16]
    array = np.asarray(value)
    if array.dtype.kind in "OSU":
        return hashlib.sha256(repr(array.tolist()).encode()).hexdigest()[:16]
    return hashlib.sha256(array.tobytes() + str(array.dtype).encode() + str(array.shape).encode()).hexdigest()[:16]


def hdf5_fingerprint(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}

    def attrs(name: str, obj) -> None:
        for key, value in obj.attrs.items():
            if key not in PROVENANCE:
                found[f"{name}@{key}"] = _digest(value)

    with h5py.File(path, "r") as f:
        attrs("/", f)

        def visit(name: str, obj) -> None:
            attrs(name, obj)
            if isinstance(obj, h5py.Dataset):
                found[name] = _digest(obj[()])

        f.visititems(visit)
    return found


def _without_timings(value):
    """Fold records minus wall-clock figures (seconds, samples/s), which differ run to run."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items()
                if not any(t in k for t in ("seconds", "per_s", "elapsed", "_utc"))}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def run(out: Path) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    db = out / "db"
    _occmer("demo-db", str(db), "--subjects", "3", "--clips-per-subject", "2", "--frames", "12", "--size", "128", "--seed", "0")
    glasses, surgical = out / "glasses.h5", out / "surgical.h5"
    _occmer("synthesize", "--db", "demo", "--root", str(db), "--mask", "glasses", "--size", "64",
            "--workers", "1", "--out", str(glasses))
    _occmer("features", str(glasses), "--flow", "tvl1,farneback", "--size", "28")
    _occmer("synthesize", "--db", "demo", "--root", str(db), "--mask", "surgical", "--size", "64",
            "--workers", "2", "--features", "tvl1:28", "--out", str(surgical))
    bench = out / "bench"
    _occmer("bench", "ststnet", "rrrn", "--data", str(glasses), "--data", str(surgical), "--labels", "objective",
            "--epochs", "2", "--features", "flow_tvl1_28", "--out", str(bench), "--no-html")
    result: dict[str, object] = {"glasses.h5": hdf5_fingerprint(glasses), "surgical.h5": hdf5_fingerprint(surgical)}
    result["bench/table.md"] = _digest((bench / "table.md").read_bytes())
    result["bench/folds"] = {p.relative_to(bench).as_posix(): _digest(json.dumps(_without_timings(json.loads(p.read_text())), sort_keys=True).encode())
                             for p in sorted((bench / "folds").rglob("*.json"))}
    return result


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1])), indent=1, sort_keys=True))
