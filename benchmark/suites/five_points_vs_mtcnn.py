"""How far do occmer's five points land from MTCNN's? (HTNet's block centres, issue 28.)

HTNet's code (wangzhifengharrison/HTNet main_HTNet.py) finds its five points with facenet-pytorch's
MTCNN on the apex face read with cv2 (BGR) and resized to 28x28 with INTER_AREA; occmer takes them
from its own mediapipe landmarks (occmer.models.landmark_blocks.five_points). This compares both on
the faces of an `occmer occlude` output (/faces landmarks; the face file of each row in /faces/placement):

- "224 px": MTCNN on the full-size face in RGB (its intended input), distances scaled to 28-grid cells;
- "224 px padded": the same inside a grey border half the side wide (a tight crop, whose face runs
  past the image's edges, leaves MTCNN without the context it was trained with);
- "28 px as HTNet": MTCNN on the BGR face resized to 28x28 with INTER_AREA, as the authors call it;
- "28 px RGB": the same resize with the channels in MTCNN's order (what the BGR/RGB swap costs);
- "HTNet's points": "28 px as HTNet" with the authors' fixed points where MTCNN finds no face.

Per point (eyes, nose, mouth corners; "left" = the image's left), over faces both methods find: the
median and 90th percentile distance in 28-grid cells, and the share of faces whose 14x14 block
corner (clamp to [7, 21], truncate) is the same on both axes. Prints numbers only; never writes
an image. Needs facenet-pytorch (MTCNN weights ship inside it), which is no occmer dependency:

    python -m venv /tmp/mtcnnvenv && /tmp/mtcnnvenv/bin/pip install facenet-pytorch --no-deps
    PYTHONPATH=$PWD:/tmp/mtcnnvenv/lib/python3.11/site-packages python \\
        benchmark/suites/five_points_vs_mtcnn.py /tmp/real/cond/clean.h5 /tmp/real/datasets/combined_datasets_whole
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import torch

from occmer.models.landmark_blocks import (
    FALLBACK_POINTS,
    POINT_NAMES,
    REFERENCE_GRID,
    block_corners,
    five_points,
    point_distances,
)
from occmer.store.reader import OccmerFile

HTNET = "28 px as HTNet"
USED = "HTNet's points (28 px as HTNet, FALLBACK_POINTS where MTCNN finds no face)"


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou: float) -> torch.Tensor:
    """torchvision.ops.batched_nms in plain torch: greedy NMS per group, kept indices by falling score."""
    keep = []
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = scores.argsort(descending=True)
    boxes = boxes + (groups.to(boxes) * (boxes.max() + 1))[:, None]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.numel():
        i, order = order[0], order[1:]
        keep.append(i)
        lo = torch.maximum(boxes[i, :2], boxes[order, :2])
        hi = torch.minimum(boxes[i, 2:], boxes[order, 2:])
        inter = (hi - lo).clamp(min=0).prod(dim=1)
        order = order[inter / (area[i] + area[order] - inter) <= iou]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long)


def load_mtcnn() -> type:
    """facenet-pytorch's MTCNN; its detector needs only torchvision's batched_nms, supplied when torchvision
    is missing (a CUDA torchvision wheel does not load beside a CPU torch)."""
    try:
        import torchvision.ops.boxes  # noqa: F401
    except (ImportError, RuntimeError, OSError):
        stub = {name: types.ModuleType(name) for name in
                ("torchvision", "torchvision.transforms", "torchvision.transforms.functional", "torchvision.ops",
                 "torchvision.ops.boxes")}
        stub["torchvision.ops.boxes"].batched_nms = batched_nms
        stub["torchvision.transforms"].functional = stub["torchvision.transforms.functional"]
        sys.modules.update(stub)
    from facenet_pytorch import MTCNN

    return MTCNN


def mtcnn_points(detector: torch.nn.Module, image: np.ndarray) -> np.ndarray | None:
    """(5, 2) points of the face MTCNN keeps first (the largest, as select_largest=True), None when it finds none."""
    _, _, landmarks = detector.detect(image, landmarks=True)
    return None if landmarks is None else np.asarray(landmarks[0], dtype=np.float64)


def pad(image: np.ndarray) -> np.ndarray:
    """The face inside a grey border half its side wide, so that a tight crop shows MTCNN some context."""
    border = image.shape[1] // 2
    return cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_CONSTANT, value=(128, 128, 128))


def variants(bgr: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """Each MTCNN input with the factor from its pixels to 28-grid cells."""
    small = cv2.resize(bgr, (REFERENCE_GRID, REFERENCE_GRID), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return {
        "224 px": (rgb, REFERENCE_GRID / bgr.shape[1]),
        "224 px padded": (pad(rgb), REFERENCE_GRID / bgr.shape[1]),
        HTNET: (small, 1.0),
        "28 px RGB": (cv2.cvtColor(small, cv2.COLOR_BGR2RGB), 1.0),
    }


def summarise(header: str, ours: list[np.ndarray], theirs: list[np.ndarray]) -> None:
    print(f"\n{header}; compared on {len(ours)} (occmer's landmarks too)")
    if not ours:
        return
    d = point_distances(ours, theirs)
    same = (block_corners(torch.tensor(np.stack(ours)), REFERENCE_GRID)
            == block_corners(torch.tensor(np.stack(theirs)), REFERENCE_GRID)).all(-1).numpy()
    print(f"  {'point':<12} {'median':>7} {'p90':>7} {'same block':>11}")
    for i, point in enumerate(POINT_NAMES):
        print(f"  {point:<12} {np.median(d[:, i]):7.2f} {np.percentile(d[:, i], 90):7.2f} {same[:, i].mean():11.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="an `occmer occlude` output with /faces landmarks")
    parser.add_argument("faces", type=Path, help="the folder of its face images")
    args = parser.parse_args()
    with OccmerFile.open(args.file) as f:
        layers = f.face_layers()
    if layers is None:
        raise SystemExit(f"{args.file}: no /faces group; use an `occmer occlude` output")
    detector = load_mtcnn()(margin=0, image_size=REFERENCE_GRID, select_largest=True, post_process=False, device="cpu")
    names = ("224 px", "224 px padded", HTNET, "28 px RGB")
    ours: dict[str, list[np.ndarray]] = {n: [] for n in (*names, USED)}
    theirs: dict[str, list[np.ndarray]] = {n: [] for n in (*names, USED)}
    found = {n: 0 for n in names}
    for row, placement in enumerate(layers.placement):
        bgr = cv2.imread(str(args.faces / placement["face"]))
        if bgr is None:
            raise SystemExit(f"{args.faces / placement['face']}: cannot read the face image of {layers.sample_ids[row]}")
        h, w = bgr.shape[:2]
        for name, (image, to_grid) in variants(bgr).items():
            points = mtcnn_points(detector, image)
            if points is not None and name.endswith("padded"):
                points = points - w // 2
            found[name] += points is not None
            if points is not None and layers.found[row]:
                ours[name].append(five_points(layers.landmarks[row], (w, h), REFERENCE_GRID))
                theirs[name].append(points * to_grid)
            if name == HTNET and layers.found[row]:  # what HTNet cuts at: MTCNN's points, else its fallback
                ours[USED].append(five_points(layers.landmarks[row], (w, h), REFERENCE_GRID))
                theirs[USED].append(FALLBACK_POINTS if points is None else points)
    print(f"{len(layers.placement)} faces, occmer landmarks on {int(layers.found.sum())}; distances in 28-grid cells")
    faces = len(layers.placement)
    for name in names:
        summarise(f"{name}: MTCNN finds {found[name]} of {faces} faces", ours[name], theirs[name])
    summarise(f"{USED}: MTCNN's on {found[HTNET]}, fallback on {faces - found[HTNET]}", ours[USED], theirs[USED])


if __name__ == "__main__":
    main()
