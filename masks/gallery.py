"""Draw the occluder gallery of README.md and docs/occluders.md (issue 16 families).

Uses the Grace Hopper portrait that ships with matplotlib and the bundled mediapipe model;
nothing is downloaded. Writes into docs/img/:

- occluders_shading.png: glasses, sunglasses, surgical and cloth masks, `--shading off`
  (left) and `on` (right): face-driven shading, contact shadow, lens highlight and refraction;
- occluders_hands.png: the resting poses (chin, cheek-left, cheek-right) and a passing hand;
- occluders_hand_pass.gif: `--hand-path right:0.1:0.9` on a still head.

occluders_skin.gif, inspect_page.png and bench_report.png come from the synthetic demo:
benchmark/screenshots.py.

    .venv/bin/python masks/gallery.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def hopper() -> tuple[np.ndarray, np.ndarray]:
    """(aligned 224 px RGB crop, its landmarks), as the pipeline would align it."""
    import matplotlib.cbook as cbook

    from occmer.faces.align import alignment_transform, transform_points, warp_frame
    from occmer.faces.landmarks import MediapipeBackend

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        image = np.array(Image.open(fh).convert("RGB"))
    backend = MediapipeBackend()
    try:
        landmarks = backend.detect(image)
    finally:
        backend.close()
    m = alignment_transform(landmarks, 224)
    return warp_frame(image, m, 224), transform_points(landmarks, m)


def labelled(image: np.ndarray, text: str) -> np.ndarray:
    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, 8 + 6 * len(text), 14), fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255))
    return np.array(im)


def shading_sheet(face: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    from occmer.occluders import make_occluder
    from occmer.occluders.compositing import composite

    rows = []
    for spec, variant in (("glasses", "black-rect"), ("sunglasses", "brown-round"), ("surgical", "white"),
                          ("cloth", "navy-stripes")):
        row = []
        for shading in ("off", "on"):
            layer = make_occluder(spec, {"variant": variant, "shading": shading}).place(face, landmarks, np.random.default_rng(0))
            row.append(labelled(composite(face, layer)[0], f"{spec} --shading {shading}"))
        rows.append(np.hstack(row))
    return np.vstack([np.hstack(rows[:2]), np.hstack(rows[2:])])


def hand_sheet(face: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    from occmer.occluders import make_occluder
    from occmer.occluders.compositing import Compositor, composite

    tiles = []
    for i, pose in enumerate(("chin", "cheek-left", "cheek-right")):
        layer = make_occluder("hand", {"variant": pose}).place(face, landmarks, np.random.default_rng(i))
        tiles.append(labelled(composite(face, layer)[0], f"hand --variant {pose}"))
    n = 16
    occluder = make_occluder("hand", {"hand_path": "right:0.1:0.9"})
    layer = occluder.place(face, landmarks, np.random.default_rng(3))
    layer = occluder.follow(layer, [face] * n, 0, np.repeat(np.eye(2, 3)[None], n, axis=0), landmarks)
    compositor = Compositor(layer)
    frames = [compositor.composite(face, None, t)[0] for t in range(n)]
    tiles.append(labelled(frames[n // 2], "--hand-path right:0.1:0.9"))
    return np.hstack(tiles), frames


def save_gif(frames: list[np.ndarray], path: Path, ms: int = 120) -> None:
    images = [Image.fromarray(f).convert("P", palette=Image.Palette.ADAPTIVE, colors=128) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=ms, loop=0, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "img")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    face, landmarks = hopper()
    Image.fromarray(shading_sheet(face, landmarks)).save(args.out / "occluders_shading.png", optimize=True)
    sheet, passing = hand_sheet(face, landmarks)
    Image.fromarray(sheet).save(args.out / "occluders_hands.png", optimize=True)
    small = [np.array(Image.fromarray(f).resize((112, 112), Image.Resampling.LANCZOS)) for f in passing]
    save_gif(small, args.out / "occluders_hand_pass.gif", ms=80)
    for name in ("occluders_shading.png", "occluders_hands.png", "occluders_hand_pass.gif"):
        print(f"{args.out / name}: {(args.out / name).stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
