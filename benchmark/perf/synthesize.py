"""Speed of `occmer synthesize` against the I/O floor, measured in the same run.

The floor is what any synthesis must do: decode every frame, cut out the face (here a
fixed square where the benchmark put it, so no landmarks are needed), bring it to the
stored size and write it compressed (no landmarks, no alignment, no head motion, no
occluder). Cropping the face matters: gzip on a flat background is several times faster
than on face texture, so a floor that stored the whole frame would flatter itself. The
pipeline figure is the whole of `occmer synthesize`. Both run with the same worker count
on the same CASME II-like clips (640x480 JPEG frames, face about 250 px wide), built from
the demo database.

    .venv/bin/python benchmark/perf/synthesize.py --workers 2 --masks none,block,glasses,surgical

`--shading on,off` times each template occluder both ways in the same run (issue 16: the
face-driven shading, contact shadow and lenses must stay within 1.3x of the flat occluder);
`--mask-motion skin` times the skin-following masks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

FACE_PX = 300  # side of the demo face image pasted into each 640x480 frame


def build_casme_like(src_root: Path, dst_root: Path, clips: int) -> Path:
    """Copy `clips` demo clips into a 640x480 CASME II-like tree (face scaled to ~250 px)."""
    import pandas as pd

    sheet = next(src_root.glob("CASME2-coding-*.xlsx"))
    table = pd.read_excel(sheet).head(clips)
    for _, row in table.iterrows():
        src = src_root / f"sub{int(row['Subject']):02d}" / str(row["Filename"])
        dst = dst_root / f"sub{int(row['Subject']):02d}" / str(row["Filename"])
        dst.mkdir(parents=True, exist_ok=True)
        for image_path in src.iterdir():
            face = cv2.imread(str(image_path))
            scale = FACE_PX / face.shape[1]
            face = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            canvas = np.full((480, 640, 3), 96, np.uint8)
            y, x = (480 - face.shape[0]) // 2, (640 - face.shape[1]) // 2
            canvas[y : y + face.shape[0], x : x + face.shape[1]] = face
            cv2.imwrite(str(dst / image_path.name), canvas, [cv2.IMWRITE_JPEG_QUALITY, 95])
    table.to_excel(dst_root / sheet.name, index=False)
    for extra in src_root.glob("CASME2-ObjectiveClasses*.xlsx"):
        pd.read_excel(extra).to_excel(dst_root / extra.name, index=False)
    return dst_root


def _floor_clip(args: tuple) -> int:
    from occmer.databases import select_frames
    from occmer.frames import read_frame
    from occmer.store.writer import ClipRecord, write_shard

    clip, size, out_dir, compression = args
    chosen = select_frames(clip, "clip")
    y0, x0 = (480 - FACE_PX) // 2, (640 - FACE_PX) // 2
    frames = np.stack([
        cv2.resize(read_frame(p)[y0 : y0 + FACE_PX, x0 : x0 + FACE_PX], (size, size), interpolation=cv2.INTER_AREA)
        for _, p in chosen
    ])
    t = len(frames)
    record = ClipRecord(
        row={"sample_id": clip.sample_id}, frames=frames, occlusion=np.zeros((t, size, size), np.uint8),
        landmarks=np.zeros((t, 478, 2), np.float32), frame_numbers=np.array([n for n, _ in chosen], np.int32),
    )
    write_shard(Path(out_dir), record, compression)
    return t


def io_floor(clips, size: int, workers: int, out_dir: Path, compression: int) -> tuple[int, float]:
    start = time.perf_counter()
    jobs = [(clip, size, str(out_dir), compression) for clip in clips]
    if workers <= 1:
        frames = sum(map(_floor_clip, jobs))
    else:
        import multiprocessing

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            frames = sum(pool.map(_floor_clip, jobs))
    return frames, time.perf_counter() - start


def pipeline(clips, mask: str, workers: int, out: Path, compression: int, options: dict | None = None) -> tuple[int, float]:
    from occmer.pipeline import SynthesisSettings, synthesize

    settings = SynthesisSettings(database="demo", mask=mask, compression=compression, mask_options=dict(options or {}))
    summary = synthesize(settings, clips, out, workers=workers,
                         overwrite=True, progress=False)
    return summary.frames, summary.seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--frames", type=int, default=30, help="frames per demo clip")
    parser.add_argument("--masks", default="none,block,glasses,sunglasses,surgical")
    parser.add_argument("--compression", type=int, default=1, help="gzip level for both (occmer's default: 1)")
    parser.add_argument("--shading", default="on", help="on, off or on,off (each mask timed with each setting)")
    parser.add_argument("--mask-motion", default="rigid", help="rigid, skin or rigid,skin (fabric masks only)")
    args = parser.parse_args(argv)

    from occmer.databases.resolve import resolve_databases, scan_all
    from occmer.demo import build_demo_database

    work = Path(tempfile.mkdtemp(prefix="occmer-perf-"))
    try:
        demo = build_demo_database(work / "demo", seed=0, subjects=4, clips_per_subject=max(1, args.clips // 4),
                                   frames=args.frames)
        root = build_casme_like(demo, work / "casme_like", args.clips)
        clips = scan_all(resolve_databases("demo", (str(root),))).clips
        print(f"clips: {len(clips)} CASME II-like, 640x480 JPEG, workers: {args.workers}, cpus: {os.cpu_count()}")
        io_frames, io_seconds = io_floor(clips, 224, args.workers, work / "floor", args.compression)
        io_fps = io_frames / io_seconds
        print(f"{'I/O floor (decode + crop + resize + write)':<44} {io_fps:8.1f} frames/s")
        print("| stage | frames/s | time / I/O floor |\n|---|---|---|")
        print(f"| I/O floor | {io_fps:.1f} | 1.00 |")
        fabric = {"surgical", "n95", "cloth"}
        for mask in args.masks.split(","):
            for shading in args.shading.split(","):
                motions = args.mask_motion.split(",") if mask in fabric else ["rigid"]
                for motion in motions:
                    options = {"shading": shading, "mask_motion": motion} if mask in fabric else {"shading": shading}
                    label = f"--mask {mask} --shading {shading}" + (f" --mask-motion {motion}" if mask in fabric else "")
                    out = work / f"{mask}-{shading}-{motion}.h5"
                    frames, seconds = pipeline(clips, mask, args.workers, out, args.compression, options)
                    fps = frames / seconds
                    print(f"| synthesize {label} | {fps:.1f} | {io_fps / fps:.2f} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
