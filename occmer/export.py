"""`occmer export`: an occmer file's features in the layouts the community's code reads.

- `ststnet-loso`: STSTNet's / HTNet's leave-one-subject-out tree,
  `norm_u_v_os/<held-out subject>/u_train|u_test/<class code>/<subject>_<clip>.png`, 28x28
  images whose red, green and blue planes are u, v and strain, each plane of each image min-max
  scaled to 0..255 (as in STSTNet's released inputs, where every channel of every image spans
  0..255; their code reads them with cv2.imread, i.e. strain, v, u). The tree folder holds the
  subject folders only: the reference code lists it with os.listdir and takes every entry as a
  subject (STSTNet's main.py reads `norm_u_v_os`, HTNet's `datasets/three_norm_u_v_os`).
- `flat`: the same images, one per sample, in `STSNet_whole_norm_u_v_os/` (HTNet's name for it).
- `npy`: one float32 (N, C, S, S) array of the stored values (MEB-style), no rescaling.
Every layout has `samples.csv` (database, subject, clip, label code, class, sample_id; rows
follow the array / list the images) and `export.json` (what was exported, how, and the
`occmer import` command that reads it back). Samples are the members of one protocol's stored
splits (default megc2019 where it applies, else loso); class codes are positions in the label
scheme's canonical classes (megc2019: 0 negative, 1 positive, 2 surprise, as STSTNet's CSV).

The output is built in a hidden sibling folder and renamed onto OUTDIR, so OUTDIR is either
the old content or the whole export; nothing is written outside it, and an input is never in it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from occmer import __version__
from occmer.errors import ConfigError, FeatureError, StoreError
from occmer.importing import provenance_key
from occmer.labels import classes as scheme_classes
from occmer.protocols import PROTOCOLS, get_protocol
from occmer.protocols.splits import compute_split, sample_table
from occmer.store import OccmerFile, SplitSet

LAYOUTS = ("ststnet-loso", "flat", "npy")
IMAGE_CHANNELS = ("u", "v", "strain")  # red, green, blue
STSTNET_SIZE = 28
TRAIN_DIR, TEST_DIR = "u_train", "u_test"
CSV_NAME, INFO_NAME, NPY_NAME = "samples.csv", "export.json", "features.npy"
TREE_DIR, FLAT_DIR = "norm_u_v_os", "STSNet_whole_norm_u_v_os"  # the folder names the reference code reads
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
NORMALISATION_DOC = ("each of the u, v, strain planes of each image min-max scaled to 0..255 and rounded "
                     "(a constant plane becomes 0)")


@dataclass
class ExportResult:
    out: Path
    layout: str
    n_samples: int
    n_files: int
    feature: str
    protocol: str
    notes: list[str]


# ---------------------------------------------------------------- pure parts


def minmax_image(planes: np.ndarray) -> np.ndarray:
    """(C, S, S) float -> uint8, each plane min-max scaled to 0..255 and rounded (constant -> 0)."""
    planes = np.asarray(planes, dtype=np.float64)
    low = planes.min(axis=(1, 2), keepdims=True)
    span = planes.max(axis=(1, 2), keepdims=True) - low
    scaled = np.divide(planes - low, span, out=np.zeros_like(planes), where=span > 0) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def png_bytes(planes: np.ndarray, where: str) -> bytes:
    """(3, S, S) uint8 planes in R, G, B order -> PNG bytes (cv2 encodes B, G, R)."""
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(planes[::-1].transpose(1, 2, 0)))
    if not ok:
        raise StoreError(f"{where}: the image could not be encoded as PNG")
    return buffer.tobytes()


def class_codes(scheme: str, names: list[str]) -> dict[str, int]:
    """Class name -> code: its position among the scheme's canonical classes, others after (sorted)."""
    canonical = scheme_classes(scheme)
    extra = sorted(set(names) - set(canonical))
    order = canonical + extra
    return {name: order.index(name) for name in names}


def plain_subject(subject: str, database: str) -> str:
    """`casme2/sub01` -> `sub01`: the community's CSVs and folders name subjects without the database."""
    prefix = f"{database}/"
    return subject[len(prefix):] if subject.startswith(prefix) else subject


def _safe(name: str, what: str, path: Path) -> str:
    if not _SAFE.match(name) or name in (".", ".."):
        raise ConfigError(f"{path}: {what} {name!r} cannot be a file name (letters, digits, _ . + - only); "
                          "occmer export never writes outside OUTDIR")
    return name


# ---------------------------------------------------------------- choosing what to export


def choose_feature(f: OccmerFile, requested: str | None, layout: str) -> str:
    names = f.feature_names()
    hint = f"compute one with `occmer features {f.path} --flow tvl1 --size 28`"
    if requested:
        if requested not in names:
            raise FeatureError(f"{f.path}: no feature set {requested!r} (available: {', '.join(names) or 'none'}); "
                               f"{hint}")
        return requested
    if not names:
        raise FeatureError(f"{f.path}: no feature set to export; {hint}")
    wanted = [f"flow_tvl1_{STSTNET_SIZE}"] + sorted(n for n in names if n.endswith(f"_{STSTNET_SIZE}"))
    for name in wanted:
        if name in names:
            return name
    if len(names) == 1 or layout == "npy":
        return names[0]
    raise FeatureError(f"{f.path}: several feature sets ({', '.join(names)}); choose one with --features NAME")


def choose_split(f: OccmerFile, protocol: str | None, notes: list[str]) -> SplitSet:
    """The stored split of `protocol` (default megc2019 where it applies, else loso), computed if not stored."""
    stored = f.split_names()
    candidates = [protocol] if protocol else ["megc2019", "loso"]
    index = None
    for name in candidates:
        get_protocol(name)
        if name in stored:
            return f.split(name)
        if index is None:
            index = sample_table(f)
        split = compute_split(PROTOCOLS[name], index)
        if split is not None:
            notes.append(f"{f.path} stores no /splits/{name}: folds computed now (store them with "
                         f"`occmer splits {f.path}`)")
            return split
    raise ConfigError(f"{f.path}: protocol {' or '.join(candidates)} does not apply to its data "
                      f"(stored splits: {', '.join(stored) or 'none'}); pick one with --protocol")


# ---------------------------------------------------------------- the output folder


def refuse_current_folder(out: Path) -> None:
    """OUTDIR is replaced as a whole: never the current folder, one above it or the file system root."""
    resolved, cwd = Path(out).resolve(), Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved.parent == resolved:
        raise ConfigError(f"OUTDIR {out} is the current folder (or one above it); it is never replaced: "
                          "give a new folder, e.g. ./export")


def _check_out(out: Path, inputs: list[Path], overwrite: bool) -> None:
    refuse_current_folder(out)
    resolved = out.resolve()
    for source in inputs:
        source = source.resolve()
        if source == resolved or source.is_relative_to(resolved):
            raise ConfigError(f"OUTDIR {out} would hold or replace the input {source}; choose another folder")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"OUTDIR {out} is a file; give a folder")
    if out.is_symlink():
        raise ConfigError(f"OUTDIR {out} is a symbolic link; give a real folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"OUTDIR {out} is not empty; pass --overwrite to replace its content, or choose another "
                          "folder")


def _replace_dir(built: Path, out: Path) -> None:
    """Put `built` at `out` in one rename (an old `out` is moved aside first, then removed)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    try:
        os.replace(built, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:  # never follows onto an existing file
        handle.write(data)


# ---------------------------------------------------------------- export


def export_file(path: str | Path, layout: str, out: str | Path, *, feature: str | None = None,
                protocol: str | None = None, overwrite: bool = False) -> ExportResult:
    """Write `layout` for the members of `protocol`'s split from the file at `path` into folder `out`."""
    path, out = Path(path), Path(out)
    if layout not in LAYOUTS:
        raise ConfigError(f"--layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    _check_out(out, [path], overwrite)
    notes: list[str] = []
    with OccmerFile.open(path) as f:
        name = choose_feature(f, feature, layout)
        features = f.features(name)
        split = choose_split(f, protocol, notes)
        index = sample_table(f)
        occluder = f.attrs().get("occluder") or {"name": "none", "spec": "none"}
    channels = list(features.channels)
    if layout != "npy":
        missing = [c for c in IMAGE_CHANNELS if c not in channels]
        if missing:
            raise FeatureError(f"{path}: feature set {name} has channels {', '.join(channels)}; images need "
                               f"{', '.join(IMAGE_CHANNELS)} (use --layout npy for other channels)")
    if layout == "ststnet-loso":
        size = features.data.shape[-1]
        if size != STSTNET_SIZE:
            raise FeatureError(f"{path}: feature set {name} is {size}x{size}; STSTNet's tree holds {STSTNET_SIZE}x"
                               f"{STSTNET_SIZE} images: `occmer features {path} --size {STSTNET_SIZE}`, then "
                               f"--features flow_<method>_{STSTNET_SIZE}")
        if split.attrs.get("split", "loso") != "loso":
            raise ConfigError(f"protocol {split.protocol} is not leave-one-subject-out; the ststnet-loso tree needs "
                              "one (--protocol loso, megc2018-cde or megc2019)")
    rows = [int(r) for r in split.members]
    codes = class_codes(split.label_scheme, split.class_names)
    records = []
    for row in rows:
        database = str(index["database"].iloc[row])
        subject = _safe(plain_subject(str(index["subject"].iloc[row]), database), "subject", path)
        clip = _safe(str(index["filename"].iloc[row]), "clip", path)
        label = split.class_of(row)
        records.append({"database": database, "subject": subject, "clip": clip, "label": codes[label],
                        "class": label, "sample_id": str(index["sample_id"].iloc[row]),
                        "fold": split.fold_names[int(split.test_fold[row])], "row": row,
                        "occlusion_ratio": float(index["occlusion_ratio"].iloc[row])})
    _check_names(records, layout, path)
    out.parent.mkdir(parents=True, exist_ok=True)
    built = out.with_name(f".{out.name}.partial-{os.getpid()}")
    if built.exists():
        shutil.rmtree(built)
    built.mkdir()
    try:
        n_files = _WRITERS[layout](built, records, features.data, channels)
        _write_csv(built / CSV_NAME, records)
        info = _info(path, layout, name, channels, split, records, codes, out)
        info["provenance"] = provenance(occluder, records)
        _write(built / INFO_NAME, (json.dumps(info, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        _replace_dir(built, out)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    return ExportResult(out, layout, len(records), n_files + 2, name, split.protocol, notes)


def _check_names(records: list[dict], layout: str, path: Path) -> None:
    """Images are named `<subject>_<clip>` and tree folders by subject alone: those must not collide."""
    if layout == "npy":
        return
    images: dict[str, str] = {}
    subjects: dict[str, str] = {}
    for r in records:
        image = f"{r['subject']}_{r['clip']}"
        first = images.setdefault(image, r["sample_id"])
        other = subjects.setdefault(r["subject"], r["database"])
        if first != r["sample_id"] or (layout == "ststnet-loso" and other != r["database"]):
            raise ConfigError(f"{path}: two samples would both be written as {image!r} or under subject folder "
                              f"{r['subject']!r} (the community's layouts name subjects without their database); "
                              "export the databases from separate files, or use --layout npy")


def _image(data: np.ndarray, channels: list[str], row: int, where: str) -> bytes:
    planes = data[row][[channels.index(c) for c in IMAGE_CHANNELS]]
    return png_bytes(minmax_image(planes), where)


def _write_flat(built: Path, records: list[dict], data: np.ndarray, channels: list[str]) -> int:
    folder = built / FLAT_DIR
    folder.mkdir()
    for r in records:
        _write(folder / f"{r['subject']}_{r['clip']}.png", _image(data, channels, r["row"], r["sample_id"]))
    return len(records)


def _write_tree(built: Path, records: list[dict], data: np.ndarray, channels: list[str]) -> int:
    images = {r["sample_id"]: _image(data, channels, r["row"], r["sample_id"]) for r in records}
    count = 0
    for held_out in sorted({r["subject"] for r in records}):
        for r in records:
            split_dir = TEST_DIR if r["subject"] == held_out else TRAIN_DIR
            folder = built / TREE_DIR / held_out / split_dir / str(r["label"])
            folder.mkdir(parents=True, exist_ok=True)
            _write(folder / f"{r['subject']}_{r['clip']}.png", images[r["sample_id"]])
            count += 1
    return count


def _write_npy(built: Path, records: list[dict], data: np.ndarray, channels: list[str]) -> int:
    array = np.ascontiguousarray(data[[r["row"] for r in records]], dtype=np.float32)
    with open(built / NPY_NAME, "xb") as handle:
        np.save(handle, array, allow_pickle=False)
    return 1


_WRITERS = {"ststnet-loso": _write_tree, "flat": _write_flat, "npy": _write_npy}


def _write_csv(target: Path, records: list[dict]) -> None:
    with open(target, "x", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["database", "subject", "clip", "label", "class", "sample_id"])
        for r in records:
            writer.writerow([r["database"], r["subject"], r["clip"], r["label"], r["class"], r["sample_id"]])


def import_command(layout: str, out: Path, channels: list[str], scheme: str, codes: dict[str, int]) -> str:
    """The `occmer import` command that reads the export back."""
    source = out / {"npy": NPY_NAME, "flat": FLAT_DIR, "ststnet-loso": TREE_DIR}[layout]
    parts = ["occmer", "import", str(source), "--csv", str(out / CSV_NAME),
             "--layout", {"ststnet-loso": "loso", "flat": "flat", "npy": "npy"}[layout],
             "--channels", ",".join(channels if layout == "npy" else IMAGE_CHANNELS)]
    if layout == "ststnet-loso":
        parts += ["--train-dir", TRAIN_DIR, "--test-dir", TEST_DIR]
    parts += ["--normalisation", "none" if layout == "npy" else "minmax-per-channel"]
    if scheme in ("megc2019", "emotion", "objective"):
        parts += ["--labels", scheme]
        parts += [f"--label-map={code}={name}" for name, code in sorted(codes.items(), key=lambda kv: kv[1])]
    parts += ["--out", "imported.h5"]
    return " ".join(shlex.quote(p) for p in parts)


def provenance(occluder: dict, records: list[dict]) -> dict:
    """What `occmer import` carries back into the file: the occluder and each sample's occlusion ratio."""
    return {"occluder": occluder,
            "occlusion_ratio": {provenance_key(r["database"], r["subject"], r["clip"]): round(r["occlusion_ratio"], 6)
                                for r in records}}


def _info(path: Path, layout: str, feature: str, channels: list[str], split: SplitSet, records: list[dict],
          codes: dict[str, int], out: Path) -> dict:
    return {
        "format": "occmer-export", "version": 1, "occmer_version": __version__, "layout": layout,
        "source": str(path), "feature": feature,
        "channels": channels if layout == "npy" else {"red": "u", "green": "v", "blue": "strain"},
        "normalisation": "none (the stored values)" if layout == "npy" else NORMALISATION_DOC,
        "protocol": split.protocol, "label_scheme": split.label_scheme, "official_membership": split.official,
        "classes": {str(code): name for name, code in sorted(codes.items(), key=lambda kv: kv[1])},
        "n_samples": len(records), "folds": sorted({r["fold"] for r in records}),
        "import_command": import_command(layout, out, channels, split.label_scheme, codes),
    }
