"""Validate `occmer occlude` on the demo, where the truth is known (issue 25).

Route A, "occlude the frames, then compute the flow": `occmer synthesize --mask M --features tvl1:28`
(the full pipeline). Route B, "compute the flow, then occlude it": the clean file's flow taken out
as an import (written through occmer's store API, as `occmer import` writes one) with each clip's
aligned apex frame as its face image (the public release's faces are apex crops; `--face-frame
onset` uses the frame the flow and A's occluder placement are computed in), then `occmer occlude
--mask M --motion-model X`, same seed. Per clip, B is scored against A inside A's occluder (grid
alpha > 0.5), at its edge (0 < alpha <= 0.5) and outside it (alpha == 0), per channel; the
placements are compared by IoU. The same again after the community's per-channel min-max
normalisation (each channel of each sample scaled to 0..255, as the public STSTNet inputs are).
Then `occmer bench` (LOSO) on both routes' conditions, UF1 mean +- std over seeds.

Commands (single-threaded and niced on a shared machine; about 10 min on 2 busy cores):

    OMP_NUM_THREADS=1 nice python benchmark/suites/occlude_validation.py --work /tmp/occval
    OMP_NUM_THREADS=1 nice python benchmark/suites/occlude_validation.py --work /tmp/occval --face-frame onset --no-bench
    OMP_NUM_THREADS=1 nice python benchmark/suites/occlude_validation.py --work /tmp/occval --bench-seeds 3

Every occmer command run is printed (`$ occmer ...`) and run in this process; outputs that exist
in --work are reused, so a rerun only recomputes what is missing.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np

from occmer.cli import cli
from occmer.features.occlusion_models import renormalise
from occmer.occlude import sample_key
from occmer.store.imported import ImportedFeatures, write_feature_file
from occmer.store.reader import OccmerFile, Sample

MASKS = {  # condition name -> occluder options of synthesize and occlude
    "glasses": ["--mask", "glasses"],
    "sunglasses": ["--mask", "sunglasses"],
    "surgical": ["--mask", "surgical"],
    "mouth30": ["--mask", "block", "--coverage", "0.3", "--region", "mouth"],
}
MODELS = {"affine": ["--motion-model", "affine"], "zero": ["--motion-model", "zero"],
          "robust": ["--motion-model", "affine", "--robust"]}
REGIONS = ("inside", "edge", "outside")
CHANNELS = ("u", "v", "strain")


def occmer(args: list[str]) -> None:
    """Run one occmer command in this process, printed first."""
    print("$ occmer " + " ".join(shlex.quote(a) for a in args), flush=True)
    code = cli.main(args, prog_name="occmer", standalone_mode=False)
    if code:
        raise SystemExit(f"occmer {args[0]} failed (exit {code})")


# ---------------------------------------------------------------- route A and the clean file


def route_a(work: Path, db: Path, name: str, options: list[str], face_size: int, sizes: list[int]) -> Path:
    out = work / f"A_{name}.h5"
    if not out.exists():
        specs = [x for s in sizes for x in ("--features", f"tvl1:{s}")]
        occmer(["synthesize", "--db", "demo", "--root", str(db), *options, "--size", str(face_size), *specs,
                "--out", str(out), "-q"])
    return out


def faces_folder(clean: Path, folder: Path, frame: str) -> Path:
    """Each clip's aligned apex (or onset) frame of the clean file, as <subject>_<clip>.png."""
    if folder.is_dir():
        return folder
    folder.mkdir(parents=True)
    with OccmerFile.open(clean) as f:
        for s in f.samples():
            number = s.apex if frame == "apex" else s.onset
            image = f.frames(s.sample_id, [f.position(s.sample_id, number, frame)])[0]
            cv2.imwrite(str(folder / f"{sample_key(s)}.png"), np.ascontiguousarray(image[:, :, ::-1]))
    return folder


def _row(sample: Sample) -> dict:
    values = {f.name: getattr(sample, f.name) for f in fields(Sample) if f.name != "row"}
    return {**values, "n_frames": 0}  # an import holds no frames


def clean_import(clean: Path, out: Path, feature: str, normalisation: str) -> Path:
    """The clean file's flow as a features-only import (min-max per channel emulated on request), /splits kept."""
    if out.exists():
        return out
    with OccmerFile.open(clean) as f:
        rows = [_row(s) for s in f.samples()]
        features = f.features(feature)
        splits = [f.split(name) for name in f.split_names()]
        database = f.attrs().get("database", "demo")
    data = renormalise(features.data.astype(np.float64), normalisation).astype(np.float32)
    attrs = {"normalisation": normalisation, "source": f"{clean.name} /features/{feature}"}
    write_feature_file(out, rows, ImportedFeatures(feature, data, features.channels, attrs),
                       {"database": database, "imported_from": str(clean), "seed": 0, "command": "validation",
                        "settings": json.dumps({"validation": "occlude_validation.py"}), "skipped": "[]",
                        "invalid": "[]"},
                       splits=lambda columns: splits)
    return out


def route_b(source: Path, faces: Path, out: Path, options: list[str], model: list[str]) -> Path:
    if not out.exists():
        occmer(["occlude", str(source), "--faces", str(faces), *options, *model, "--no-face", "keep-clean",
                "--out", str(out), "-q"])
    return out


# ---------------------------------------------------------------- scoring


@dataclass
class Scores:
    """Per clip: (regions, channels) RMSE and correlation, overall r, IoU of the placements."""

    rmse: np.ndarray  # (N, 3, C)
    corr: np.ndarray  # (N, 3, C)
    overall: np.ndarray  # (N,)
    iou: np.ndarray  # (N,) binary IoU at alpha > 0.5
    soft_iou: np.ndarray  # (N,) sum(min) / sum(max)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def read_set(path: Path, feature: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    with OccmerFile.open(path) as f:
        fs = f.features(feature)
        return fs.data.astype(np.float64), fs.occlusion.astype(np.float64), fs.sample_ids


def score(a: np.ndarray, alpha_a: np.ndarray, b: np.ndarray, alpha_b: np.ndarray) -> Scores:
    n, c = a.shape[:2]
    rmse = np.full((n, 3, c), np.nan)
    corr = np.full((n, 3, c), np.nan)
    masks = [alpha_a > 0.5, (alpha_a > 0) & (alpha_a <= 0.5), alpha_a == 0]
    for i in range(n):
        for r, m in enumerate(masks):
            if not m[i].any():
                continue
            for ch in range(c):
                x, y = a[i, ch][m[i]], b[i, ch][m[i]]
                rmse[i, r, ch] = np.sqrt(np.mean((x - y) ** 2))
                corr[i, r, ch] = _corr(x, y)
    overall = np.array([_corr(a[i].ravel(), b[i].ravel()) for i in range(n)])
    inter = ((alpha_a > 0.5) & (alpha_b > 0.5)).sum(axis=(1, 2))
    union = ((alpha_a > 0.5) | (alpha_b > 0.5)).sum(axis=(1, 2))
    iou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
    soft = np.minimum(alpha_a, alpha_b).sum(axis=(1, 2)) / np.maximum(np.maximum(alpha_a, alpha_b).sum(axis=(1, 2)),
                                                                       1e-12)
    return Scores(rmse, corr, overall, iou, soft)


def _m(values: np.ndarray) -> str:
    return f"{np.nanmean(values):.3f}" if np.isfinite(values).any() else "-"


def print_tables(title: str, results: dict[tuple[str, str], Scores]) -> None:
    print(f"\n### {title}\n")
    print("Per clip, means over clips. r = Pearson correlation of B with A over the cells of the region, "
          "all channels pooled for 'overall'.\n")
    print("| occluder | model | IoU (>0.5) | soft IoU | overall r | r inside u/v/strain | r edge u/v/strain "
          "| r outside u/v/strain |")
    print("|---|---|---|---|---|---|---|---|")
    for (mask, model), s in results.items():
        cells = [" / ".join(_m(s.corr[:, r, ch]) for ch in range(s.corr.shape[2])) for r in range(3)]
        print(f"| {mask} | {model} | {_m(s.iou)} | {_m(s.soft_iou)} | {_m(s.overall)} | {' | '.join(cells)} |")
    print("\n| occluder | model | RMSE inside u/v/strain | RMSE edge u/v/strain | RMSE outside u/v/strain |")
    print("|---|---|---|---|---|")
    for (mask, model), s in results.items():
        cells = [" / ".join(_m(s.rmse[:, r, ch]) for ch in range(s.rmse.shape[2])) for r in range(3)]
        print(f"| {mask} | {model} | {' | '.join(cells)} |")


def compare(work: Path, db: Path, args: argparse.Namespace, normalisation: str) -> dict[tuple[str, str], Scores]:
    feature = f"flow_tvl1_{args.size}"
    clean = work / "A_none.h5"
    faces = faces_folder(clean, work / f"faces_{args.face_frame}", args.face_frame)
    tag = "raw" if normalisation == "none" else "mm"
    source = clean_import(clean, work / f"B_import_{tag}_{args.size}.h5", feature, normalisation)
    clean_a, _, ids = read_set(clean, feature)
    results: dict[tuple[str, str], Scores] = {}
    for mask in args.masks:
        a, alpha_a, ids_a = read_set(work / f"A_{mask}.h5", feature)
        assert ids_a == ids
        a = renormalise(a, normalisation)
        unoccluded = score(a, alpha_a, renormalise(clean_a, normalisation), alpha_a)
        unoccluded.iou[:] = unoccluded.soft_iou[:] = np.nan  # no placement of its own
        results[(mask, "none (clean flow)")] = unoccluded
        for model in args.models:
            out = work / f"B_{tag}_{args.face_frame}_{args.size}_{mask}_{model}.h5"
            b, alpha_b, ids_b = read_set(route_b(source, faces, out, MASKS[mask], MODELS[model]), feature)
            assert ids_b == ids
            results[(mask, model)] = score(a, alpha_a, b, alpha_b)
    return results


# ---------------------------------------------------------------- bench


def bench(work: Path, db: Path, args: argparse.Namespace) -> None:
    size = args.bench_size
    feature = f"flow_tvl1_{size}"
    clean = work / "A_none.h5"
    faces = faces_folder(clean, work / f"faces_{args.face_frame}", args.face_frame)
    source = clean_import(clean, work / f"B_import_raw_{size}.h5", feature, "none")
    data = ["--data", f"A_clean={clean}"]
    for mask in args.bench_masks:
        data += ["--data", f"A_{mask}={work / f'A_{mask}.h5'}"]
    data += ["--data", f"B_clean={route_b(source, faces, work / f'B_raw_{args.face_frame}_{size}_none.h5', ['--mask', 'none'], [])}"]
    for mask in args.bench_masks:
        for model in args.bench_motion_models:
            out = work / f"B_raw_{args.face_frame}_{size}_{mask}_{model}.h5"
            data += ["--data", f"B_{mask}_{model}={route_b(source, faces, out, MASKS[mask], MODELS[model])}"]
    out = work / f"bench_{args.face_frame}_s{args.bench_seeds}"
    start = time.perf_counter()
    occmer(["bench", *args.bench_models, *data, "--features", feature, "--seeds", str(args.bench_seeds),
            "--out", str(out), "--no-html", "-q"])
    print(f"bench: {time.perf_counter() - start:.0f} s wall")
    print(f"\n### bench (LOSO, {feature}, {args.bench_seeds} seeds): UF1 mean +- std over seeds\n")
    print((out / "table.md").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/occlude_validation"))
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--clips", type=int, default=6, help="clips per subject")
    parser.add_argument("--face-size", type=int, default=112, help="synthesize --size (the demo bench's 112)")
    parser.add_argument("--size", type=int, default=28, help="flow grid of the comparison (STSTNet's 28)")
    parser.add_argument("--face-frame", choices=["apex", "onset"], default="apex")
    parser.add_argument("--masks", default=",".join(MASKS))
    parser.add_argument("--models", default="affine,zero,robust")
    parser.add_argument("--no-bench", action="store_true")
    parser.add_argument("--bench-size", type=int, default=32, help="flow grid the bench trains on (the demo bench's)")
    parser.add_argument("--bench-models", default="ststnet,rrrn")
    parser.add_argument("--bench-masks", default="surgical")
    parser.add_argument("--bench-motion-models", default="affine,zero")
    parser.add_argument("--bench-seeds", type=int, default=2)
    args = parser.parse_args()
    for key in ("masks", "models", "bench_models", "bench_masks", "bench_motion_models"):
        setattr(args, key, [x for x in getattr(args, key).split(",") if x])
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    db = work / "db"
    if not db.is_dir():
        occmer(["demo-db", str(db), "--subjects", str(args.subjects), "--clips-per-subject", str(args.clips),
                "--preset", "smic", "--classes", "I,II,IV", "-q"])
    sizes = sorted({args.size, args.bench_size})
    for mask in ["none", *args.masks]:
        route_a(work, db, mask, ["--mask", "none"] if mask == "none" else MASKS[mask], args.face_size, sizes)
    start = time.perf_counter()
    print_tables(f"raw flow (normalisation none), faces = {args.face_frame} frames",
                 compare(work, db, args, "none"))
    print_tables(f"min-max per channel (0..255 per channel of each sample), faces = {args.face_frame} frames",
                 compare(work, db, args, "minmax-per-channel"))
    print(f"\ncomparison: {time.perf_counter() - start:.0f} s wall")
    if not args.no_bench:
        bench(work, db, args)


if __name__ == "__main__":
    main()
