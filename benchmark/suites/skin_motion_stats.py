"""How far a `--mask-motion skin` file's fabric moved, split by where each clip's AUs move the skin.

For each clip: the largest distance (px) between a fabric control point and where the rigid
head motion alone would put it, over all frames and control points. A mask that follows
the skin should move for lower-face action units and stay (nearly) still for upper-face ones.

    .venv/bin/python benchmark/suites/skin_motion_stats.py skin.h5
"""

from __future__ import annotations

import json
import re
import sys

import h5py
import numpy as np

LOWER_FACE_AUS = {9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 22, 23, 24, 25, 26, 27, 28}


def clip_motion(path: str) -> list[tuple[str, bool, float]]:
    """(AU string, has a lower-face AU, largest control-point displacement px) per clip."""
    rows = []
    with h5py.File(path, "r") as f:
        ids = [s.decode() for s in f["samples/sample_id"][()]]
        aus = [s.decode() for s in f["samples/action_units"][()]]
        for sid, au in zip(ids, aus, strict=True):
            clip = f["clips"][sid]
            record = json.loads(clip.attrs["placement"])["parameters"].get("mask_motion", {})
            if "occluder_control_points" not in clip or "control_landmarks" not in record:
                raise SystemExit(f"{path}: clip {sid} has no skin-motion record; synthesize with --mask-motion skin")
            points = clip["occluder_control_points"][()]
            rigid = clip["landmarks"][()][:, record["control_landmarks"]]
            units = {int(u) for u in re.findall(r"\d+", au)}
            rows.append((au, bool(units & LOWER_FACE_AUS), float(np.linalg.norm(points - rigid, axis=2).max())))
    return rows


def main(argv: list[str]) -> int:
    rows = clip_motion(argv[0])
    for lower in (True, False):
        chosen = [r for r in rows if r[1] == lower]
        if not chosen:
            continue
        moved = np.array([r[2] for r in chosen])
        label = "with a lower-face AU" if lower else "upper-face AUs only"
        print(f"{label}: {len(chosen)} clips ({', '.join(sorted({r[0] for r in chosen}))}): largest control-point "
              f"displacement median {np.median(moved):.2f} px, range {moved.min():.2f}-{moved.max():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
