"""Are the face images in the frame of the flow? Flow energy at the landmarks of the moving regions (issue 25).

`occmer occlude` and HTNet's code take the whole face image (e.g. the public MEGC 2019 224x224
apex crops) to span the 28x28 flow grid. If it does, the energy of the flow concentrates on the
cells under the landmarks of the regions micro-expressions move (eyebrows, mouth) found on that
face, and less so when the same landmarks are shifted, rescaled, flipped upside down, or taken
from another sample's face.

Energy per cell, per sample: |u - median u|, |v - median v| and strain - min strain, each divided
by its mean over the grid (1 = the grid's average), and their mean ("all"). Reported: the mean
over samples of the energy at the brow and mouth landmark cells under each placement, the share
of samples where the true placement beats it, and the shift and scale of the landmarks that
maximise the energy (0, 0 and 1.0 when the face is in the frame of the flow).

    python benchmark/suites/face_frame_check.py /tmp/real/cond/clean.h5

FILE: an occmer file with /faces (an `occmer occlude` output, e.g. `--mask none`) and one feature
set with channels u, v, strain. Prints numbers only (no image of a face is written).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from occmer.faces.topology import FACE_OVAL, LEFT_BROW, LEFT_EYE, MOUTH, RIGHT_BROW, RIGHT_EYE
from occmer.store.reader import OccmerFile

MOVING = {"brows": (*RIGHT_BROW, *LEFT_BROW), "mouth": MOUTH, "eyes": (*RIGHT_EYE, *LEFT_EYE)}  # eyes: blinks
SHIFTS = range(-4, 5)
SCALES = (0.8, 0.9, 1.0, 1.1, 1.2)


def energy_maps(data: np.ndarray, channels: list[str]) -> dict[str, np.ndarray]:
    """(N, S, S) energy per channel, each divided by its per-sample grid mean, and their mean ('all')."""
    out = {}
    for name in ("u", "v"):
        x = data[:, channels.index(name)].astype(np.float64)
        out[name] = np.abs(x - np.median(x, axis=(1, 2), keepdims=True))
    if "strain" in channels:
        s = data[:, channels.index("strain")].astype(np.float64)
        out["strain"] = s - s.min(axis=(1, 2), keepdims=True)
    for name, e in out.items():
        out[name] = e / np.maximum(e.mean(axis=(1, 2), keepdims=True), 1e-12)
    out["all"] = np.mean([out[k] for k in list(out)], axis=0)
    return out


def cells(points: np.ndarray, face_w: int, face_h: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid cells (row, col) under face-pixel points, clipped to the grid."""
    col = np.clip(np.floor(points[:, 0] * size / face_w), 0, size - 1).astype(int)
    row = np.clip(np.floor(points[:, 1] * size / face_h), 0, size - 1).astype(int)
    return row, col


def energy_at(e: np.ndarray, points: np.ndarray, face_wh: tuple[int, int]) -> float:
    row, col = cells(points, face_wh[0], face_wh[1], e.shape[0])
    return float(e[row, col].mean())


def print_profile(e: np.ndarray, landmarks: np.ndarray, face_wh: tuple[int, int], blocks: int = 7) -> None:
    """Where the energy is: mean 'all' energy over samples in blocks x blocks tiles of the grid (rows top to
    bottom), and inside against outside the face oval's bounding box of each sample's landmarks."""
    n, size = e.shape[0], e.shape[1]
    step = size // blocks
    tiles = e[:, :step * blocks, :step * blocks].reshape(n, blocks, step, blocks, step).mean(axis=(0, 2, 4))
    print(f"\nmean energy ('all') in {blocks}x{blocks} tiles of the grid (top row first):")
    for row in tiles:
        print("  " + " ".join(f"{v:.2f}" for v in row))
    inside = []
    for i in range(n):
        row, col = cells(landmarks[i][np.array(FACE_OVAL)], face_wh[0], face_wh[1], size)
        box = np.zeros((size, size), bool)
        box[row.min():row.max() + 1, col.min():col.max() + 1] = True
        inside.append((e[i][box].mean(), e[i][~box].mean() if (~box).any() else np.nan, box.mean()))
    values = np.array(inside)
    for name, index in MOVING.items():
        row, col = cells(landmarks[:, np.array(index)].reshape(-1, 2), face_wh[0], face_wh[1], size)
        print(f"{name}: landmark cells at row {row.mean():.1f}, column {col.mean():.1f} on average (tile "
              f"{row.mean() / step:.1f}, {col.mean() / step:.1f})")
    print(f"energy inside the face box {np.nanmean(values[:, 0]):.3f}, outside {np.nanmean(values[:, 1]):.3f} "
          f"(the box covers {values[:, 2].mean():.0%} of the grid on average)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--feature", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with OccmerFile.open(args.file) as f:
        feature = args.feature or f.feature_names()[0]
        fs = f.features(feature)
        faces = f.face_layers()
    if faces is None:
        raise SystemExit(f"{args.file}: no /faces (run `occmer occlude` on it with the face images)")
    assert list(faces.sample_ids) == list(fs.sample_ids)
    found = np.flatnonzero(faces.found)
    face_h, face_w = faces.alpha.shape[1:3]
    wh = (face_w, face_h)
    size = fs.data.shape[-1]
    maps = energy_maps(fs.data[found], fs.channels)
    landmarks = faces.landmarks[found].astype(np.float64)
    rng = np.random.default_rng(args.seed)
    others = rng.permutation(len(found))
    others = np.where(others == np.arange(len(found)), (others + 1) % len(found), others)
    step = face_w / size
    directions = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]
    print(f"{args.file} /features/{feature}: {len(found)} of {len(faces.found)} samples with landmarks, "
          f"faces {face_w}x{face_h} px, grid {size}x{size} (1 cell = {step:.1f} px)")
    print_profile(maps["all"], landmarks, wh)
    for region, index in [*MOVING.items(), ("brows+mouth", (*MOVING["brows"], *MOVING["mouth"])),
                          ("face oval", FACE_OVAL)]:
        idx = np.array(index)
        print(f"\n#### {region} ({len(idx)} landmarks): mean energy at their cells (grid mean = 1); "
              "in brackets the share of samples where the true placement is higher\n")
        names = ["true landmarks", "shifted 2 cells (8 directions)", "shifted 4 cells (8 directions)",
                 "flipped upside down", "mirrored left-right", "another sample's landmarks", "random points"]
        print("| placement | " + " | ".join(maps) + " |")
        print("|---|" + "---|" * len(maps))
        per = {name: {ch: np.zeros(len(found)) for ch in maps} for name in names}
        for i in range(len(found)):
            p = landmarks[i][idx]
            variants = {
                "true landmarks": [p],
                "shifted 2 cells (8 directions)": [p + 2 * step * np.array(d) for d in directions],
                "shifted 4 cells (8 directions)": [p + 4 * step * np.array(d) for d in directions],
                "flipped upside down": [np.stack([p[:, 0], face_h - 1 - p[:, 1]], axis=1)],
                "mirrored left-right": [np.stack([face_w - 1 - p[:, 0], p[:, 1]], axis=1)],
                "another sample's landmarks": [landmarks[others[i]][idx]],
                "random points": [rng.uniform([0, 0], [face_w, face_h], size=p.shape)],
            }
            for name, ps in variants.items():
                for ch, e in maps.items():
                    per[name][ch][i] = np.mean([energy_at(e[i], q, wh) for q in ps])
        for name in names:
            cells_ = []
            for ch in maps:
                value = per[name][ch].mean()
                if name == "true landmarks":
                    cells_.append(f"{value:.3f}")
                else:
                    cells_.append(f"{value:.3f} ({np.mean(per['true landmarks'][ch] > per[name][ch]):.0%})")
            print(f"| {name} | " + " | ".join(cells_) + " |")
        # the shift (cells) and scale (about the image centre) of the landmarks that maximise the mean energy
        grid = np.zeros((len(SCALES), len(SHIFTS), len(SHIFTS)))
        centre = np.array([face_w / 2, face_h / 2])
        e_all = maps["all"]
        for a, scale in enumerate(SCALES):
            for b, dy in enumerate(SHIFTS):
                for c, dx in enumerate(SHIFTS):
                    total = 0.0
                    for i in range(len(found)):
                        q = centre + scale * (landmarks[i][idx] - centre) + step * np.array([dx, dy])
                        total += energy_at(e_all[i], q, wh)
                    grid[a, b, c] = total / len(found)
        a, b, c = np.unravel_index(np.argmax(grid), grid.shape)
        zero = grid[SCALES.index(1.0), SHIFTS.index(0), SHIFTS.index(0)]
        print(f"\nbest placement ('all'): scale {SCALES[a]}, shift dx {SHIFTS[c]:+d} dy {SHIFTS[b]:+d} cells, energy "
              f"{grid[a, b, c]:.3f} (true placement {zero:.3f})")
        row = grid[SCALES.index(1.0), SHIFTS.index(0)]
        col = grid[SCALES.index(1.0), :, SHIFTS.index(0)]
        print("energy by horizontal shift -4..4 cells: " + " ".join(f"{v:.2f}" for v in row))
        print("energy by vertical shift -4..4 cells:   " + " ".join(f"{v:.2f}" for v in col))
        print("energy by scale " + ", ".join(str(s) for s in SCALES) + ": "
              + " ".join(f"{grid[k, SHIFTS.index(0), SHIFTS.index(0)]:.2f}" for k in range(len(SCALES))))


if __name__ == "__main__":
    main()
