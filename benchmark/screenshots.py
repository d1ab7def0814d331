"""Regenerate the screenshots of README.md and docs/ from the current code and the synthetic demo only.

    python benchmark/screenshots.py [--out docs/img] [--subjects 6] [--frames N] [--epochs E] [--seeds 2]

- inspect_page.png: `occmer inspect --html` of the demo under glasses (a page screenshot);
- bench_report.png: `occmer bench rrrn ststnet --demo-masks none,glasses`, the bench's own demo (a page
  screenshot): the demo that the README's first bench runs, where the models learn something; the
  7-class inspect demo above is too small to train on (RRRN stays at chance there, as the 0.1.0
  screenshot did);
- occluders_skin.gif: a demo face making an expression under a rigid and a skin-following surgical mask,
  the whole face, with |skin - rigid| x 8 so the difference is visible (the old gif was a fabric crop).

Every input is the synthetic demo database built here (`occmer demo-db`); no licensed database and no
file of yours is read. The two page screenshots need headless Chromium (`chromium`, `chromium-browser`
or `google-chrome` on PATH; Debian: apt-get install chromium); without it they are skipped and said so.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def occmer(*args: str) -> None:
    """One `occmer` command of this checkout; stops the script when it fails."""
    subprocess.run([sys.executable, "-m", "occmer", *args, "--quiet"], check=True)


def browser() -> str | None:
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


def screenshot(page: Path, png: Path, width: int, height: int, work: Path) -> bool:
    """`page` as headless Chromium draws it at width x height; False (and why) without a browser."""
    chromium = browser()
    if chromium is None:
        print(f"{png.name}: not regenerated: headless Chromium not found ({', '.join(BROWSERS)})")
        return False
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                    f"--user-data-dir={work / 'profile'}", f"--window-size={width},{height}",
                    "--virtual-time-budget=5000", f"--screenshot={png}", page.as_uri()],
                   check=True, capture_output=True, timeout=180)
    Image.open(png).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)
    print(f"{png}: {width}x{height} screenshot of {page.name}")
    return True


def demo_files(work: Path, subjects: int, frames: int | None) -> tuple[Path, Path]:
    """(demo database root, its glasses file with TV-L1 features at 28 px), synthetic, for the inspect page."""
    root = work / "demo"
    length = ["--frames", str(frames)] if frames else []
    occmer("demo-db", str(root), "--subjects", str(subjects), "--clips-per-subject", "7", *length)
    out = work / "glasses.h5"
    occmer("synthesize", "--db", "demo", "--root", str(root), "--mask", "glasses", "--workers", "2",
           "--features", "tvl1:28", "--on-lost", "hold", "--out", str(out))
    return root, out


def labelled(image: np.ndarray, text: str) -> np.ndarray:
    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, 8 + 6 * len(text), 14), fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255))
    return np.array(im)


def demo_face(size: int = 224) -> tuple[np.ndarray, np.ndarray]:
    """The demo's first subject, neutral: (size x size RGB face, its landmarks)."""
    from occmer.demo.build import load_identities, make_params

    face = load_identities(make_params(subjects=1, size=size))[0]
    return face.image, face.landmarks


def skin_gif_frames(face: np.ndarray, landmarks: np.ndarray, frames: int = 14, amplitude_px: float = 4.0
                    ) -> list[np.ndarray]:
    """Per frame: rigid mask | skin-following mask | |skin - rigid| x 8, over the whole face."""
    from occmer.faces.motion import estimate_head_motion
    from occmer.faces.synthetic import expression_clip
    from occmer.occluders import make_occluder
    from occmer.occluders.compositing import Compositor

    clip = expression_clip(face, landmarks, frames, frames // 2, amplitude_px, 1.0, np.random.default_rng(0),
                           radius_px=10.0)
    motion = estimate_head_motion(clip, 0, landmarks)
    shown = {}
    for mode in ("rigid", "skin"):
        occluder = make_occluder("surgical", {"variant": "blue", "mask_motion": mode})
        layer = occluder.follow(occluder.place(clip[0], landmarks, np.random.default_rng(0)), clip, 0, motion, landmarks)
        compositor = Compositor(layer)
        shown[mode] = [compositor.composite(f, m, t)[0] for t, (f, m) in enumerate(zip(clip, motion, strict=True))]
    out = []
    for rigid, skin in zip(shown["rigid"], shown["skin"], strict=True):
        diff = np.clip(np.abs(skin.astype(int) - rigid.astype(int)) * 8, 0, 255).astype(np.uint8)
        out.append(np.hstack([labelled(rigid, "--mask-motion rigid"), labelled(skin, "--mask-motion skin"),
                              labelled(diff, "|skin - rigid| x 8")]))
    return out


def save_gif(frames: list[np.ndarray], path: Path, ms: int = 120) -> None:
    images = [Image.fromarray(f).convert("P", palette=Image.Palette.ADAPTIVE, colors=128) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=ms, loop=0, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--subjects", type=int, default=6, help="demo subjects (7 clips each)")
    parser.add_argument("--frames", type=int, help="frames per demo clip (default: the demo's own, 38-108)")
    parser.add_argument("--epochs", type=int, help="bench epochs (default: each model's recipe)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--only", choices=("skin", "pages"), help="only the gif, or only the two page screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only != "pages":
        save_gif(skin_gif_frames(*demo_face()), args.out / "occluders_skin.gif")
        print(f"{args.out / 'occluders_skin.gif'}: a demo face under rigid and skin-following masks")
    if args.only == "skin":
        return 0
    if browser() is None:
        print("inspect_page.png, bench_report.png: not regenerated: headless Chromium not found")
        return 0
    with tempfile.TemporaryDirectory(prefix="occmer-screens-") as tmp:
        work = Path(tmp)
        root, glasses = demo_files(work, args.subjects, args.frames)
        page = work / "inspect.html"
        occmer("inspect", str(glasses), "--html", "--root", str(root), "--out", str(page))
        screenshot(page, args.out / "inspect_page.png", 1100, 1500, work)
        run = work / "run"
        epochs = ["--epochs", str(args.epochs)] if args.epochs else []
        occmer("bench", "rrrn", "ststnet", "--demo-masks", "none,glasses", "--seeds", str(args.seeds), *epochs,
               "--out", str(run))
        screenshot(run / "report.html", args.out / "bench_report.png", 1100, 1500, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
