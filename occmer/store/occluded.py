"""/faces of an occluded features-only file (`occmer occlude`): the occluder in face space, per sample.

Layout (docs/hdf5-format.md, docs/occlude.md):

    /faces/alpha       uint8 (N, H, W) gzip: the occluder's alpha on each face image (0..255)
    /faces/landmarks   float32 (N, K, 2): landmarks found on the face image (pixels; 0 where none)
    /faces/found       uint8 (N,): 1 = landmarks found, 0 = none (the sample was kept clean)
    /faces/placement   str (N,): JSON per sample (face file, its sha256, occluder parameters, model record)
    /faces/sample_id   str (N,): the /samples ids the rows were written for
    /faces attrs: folder (the faces folder), definition

Rows follow /samples. The grid alpha is the feature set's own `occlusion` dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from occmer.errors import StoreError
from occmer.store.checks import Bad, dataset, decode_strings, subgroup

FACES = "faces"
DEFINITION = (
    "per /samples row: alpha = the occluder's alpha on the face image the inputs were computed on (uint8 0..255), "
    "landmarks found on that image (found = 1) in its pixels, placement = JSON record of the occluder and model"
)
MAX_FACE_SIDE = 4096


@dataclass
class FaceLayers:
    """The occluder on each sample's face image; rows follow /samples."""

    alpha: np.ndarray  # uint8 (N, H, W)
    landmarks: np.ndarray  # float32 (N, K, 2), 0 where not found
    found: np.ndarray  # bool (N,)
    placement: list[dict[str, Any]]
    sample_ids: list[str]
    folder: str


def write_face_group(f: h5py.File, faces: FaceLayers, compression: int = 4) -> None:
    """Write /faces into a file being built (rows checked against `faces.sample_ids`)."""
    n = len(faces.sample_ids)
    if faces.alpha.shape[0] != n or faces.landmarks.shape[0] != n or faces.found.shape != (n,) or len(faces.placement) != n:
        raise StoreError(f"face layers do not have one row per sample ({n})")
    group = f.create_group(FACES)
    _, h, w = faces.alpha.shape
    group.create_dataset("alpha", data=np.asarray(faces.alpha, np.uint8), chunks=(1, h, w), compression="gzip",
                         compression_opts=compression)
    group.create_dataset("landmarks", data=np.asarray(faces.landmarks, np.float32))
    group.create_dataset("found", data=np.asarray(faces.found, np.uint8))
    strings = h5py.string_dtype("utf-8")
    group.create_dataset("placement", data=np.array([json.dumps(p, sort_keys=True) for p in faces.placement],
                                                     dtype=object), dtype=strings)
    group.create_dataset("sample_id", data=np.array(faces.sample_ids, dtype=object), dtype=strings)
    group.attrs["folder"] = faces.folder
    group.attrs["definition"] = DEFINITION


def read_face_group(handle: h5py.File, sample_ids: list[str], where: str) -> FaceLayers | None:
    """/faces checked against /samples (None when the file has none); StoreError naming the dataset."""
    try:
        group = subgroup(handle, FACES, f"/{FACES}", required=False)
        if group is None:
            return None
        n = len(sample_ids)
        alpha = dataset(group, "alpha", f"/{FACES}/alpha")
        if alpha.ndim != 3 or alpha.shape[0] != n or alpha.dtype != np.uint8 or max(alpha.shape[1:]) > MAX_FACE_SIDE:
            raise Bad(f"/{FACES}/alpha: expected uint8 ({n}, H, W), got {alpha.dtype} {alpha.shape}")
        landmarks = dataset(group, "landmarks", f"/{FACES}/landmarks")
        if landmarks.ndim != 3 or landmarks.shape[0] != n or landmarks.shape[2] != 2 or landmarks.shape[1] > 10000:
            raise Bad(f"/{FACES}/landmarks: expected ({n}, K, 2), got {landmarks.shape}")
        found = dataset(group, "found", f"/{FACES}/found")
        placement = dataset(group, "placement", f"/{FACES}/placement")
        ids = dataset(group, "sample_id", f"/{FACES}/sample_id")
        if found.shape != (n,) or placement.shape != (n,) or ids.shape != (n,):
            raise Bad(f"/{FACES}: found, placement and sample_id need one entry per sample ({n})")
        if decode_strings(ids[()], f"/{FACES}/sample_id") != list(sample_ids):
            raise Bad(f"/{FACES}/sample_id: rows do not follow /samples")
        return FaceLayers(
            alpha=alpha[()], landmarks=np.asarray(landmarks[()], np.float32), found=found[()].astype(bool),
            placement=[json.loads(p) for p in decode_strings(placement[()], f"/{FACES}/placement")],
            sample_ids=list(sample_ids), folder=str(group.attrs.get("folder", "")),
        )
    except Bad as exc:
        raise StoreError(f"{where}: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{where}: /{FACES} cannot be read ({exc})") from None
