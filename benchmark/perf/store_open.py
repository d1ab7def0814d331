"""Cost of the checked gateway: opening an occmer file with every check vs plain h5py, in one run.

Builds a file of --clips small clips (5 frames of 32 px: the per-clip metadata, not the pixels,
is what the checks walk) with plain h5py, then times, best of --repeat:
  baseline   h5py.File + every /samples column read (what read_index did before the gateway)
  read_index occmer.data.read_index (header, every link and dataset's storage, /samples checked)
  clip       OccmerFile.open + one clip's frames (its shapes checked against /samples first)
  verify     occmer verify --quick (every clip's shapes, feature values)
CPU seconds (process time) are reported as well as wall seconds: the machine may be shared.

    .venv/bin/python benchmark/perf/store_open.py --clips 255,2000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "hostile"))

from malformed_h5 import write_features, write_samples  # noqa: E402  (the tests' file builder)

from occmer.data import read_index  # noqa: E402
from occmer.store import OccmerFile  # noqa: E402
from occmer.store.verify import verify_store  # noqa: E402

COMMAND = "python benchmark/perf/store_open.py"


def build(path: Path, n: int) -> Path:
    import numpy as np
    from malformed_h5 import _root_attrs  # noqa: PLC0415

    ids = [f"c{i:05d}" for i in range(n)]
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        _root_attrs(f)
        write_samples(f, ids=ids)
        for sid in ids:
            clip = f.create_group(f"clips/{sid}")
            clip.create_dataset("frames", data=rng.integers(0, 255, (5, 32, 32, 3), dtype=np.uint8),
                                chunks=(1, 32, 32, 3), compression="gzip", compression_opts=1)
            clip.create_dataset("occlusion", data=np.zeros((5, 32, 32), np.uint8), chunks=(1, 32, 32))
            clip.create_dataset("landmarks", data=rng.uniform(4, 28, (5, 478, 2)).astype(np.float32))
            clip.create_dataset("frame_numbers", data=np.arange(10, 15, dtype=np.int32))
            clip.attrs["placement"] = "{}"
        write_features(f, ids=ids)
    return path


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds) over `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def baseline(path: Path) -> None:
    with h5py.File(path, "r") as f:
        {k: v[()] for k, v in f["samples"].items()}


def one_clip(path: Path) -> None:
    with OccmerFile.open(path) as f:
        f.frames(f.sample_ids[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default="255,2000", help="comma-separated clip counts")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.clips.split(",")):
            path = build(Path(tmp) / f"n{n}.h5", n)
            base = timed(lambda path=path: baseline(path), args.repeat)
            row = {"clips": n, "baseline_s": base}
            for name, fn in (("read_index", lambda path=path: read_index(path)),
                             ("clip", lambda path=path: one_clip(path)),
                             ("verify_quick", lambda path=path: verify_store(path, read_data=False))):
                row[f"{name}_s"] = timed(fn, args.repeat)
            rows.append(row)
    print(f"command: {COMMAND} --clips {args.clips} --repeat {args.repeat}")
    print("| clips | baseline h5py (wall / CPU s) | read_index | open + 1 clip | verify --quick | read_index CPU / baseline CPU |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{r[k][0]:.3f} / {r[k][1]:.3f}" for k in ("baseline_s", "read_index_s", "clip_s", "verify_quick_s")]
        ratio = r["read_index_s"][1] / max(r["baseline_s"][1], 1e-6)
        print(f"| {r['clips']} | " + " | ".join(cells) + f" | {ratio:.1f}x |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
