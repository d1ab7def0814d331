"""Occluder templates: an RGBA PNG plus a JSON of anchor points, validated and rendered.

The JSON names the landmarks the template is pinned to (mediapipe indices as keys, the
matching template pixel as value) and the warp that maps one onto the other. The same
format serves the built-in templates (drawn by masks/draw.py into this package's
`templates/` folder) and users' `custom:PATH.json` templates.

    {"image": "hand.png", "warp": "affine",
     "anchors": {"1": [120, 80], "61": [60, 200], "291": [180, 200]}}

Optional keys: "points" (named template points recorded in the placement, e.g. lens
centres), "temples" (glasses arms drawn from two named points to two landmarks),
"family", "variant", "description", "format", "version", "px_per_unit".
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from occmer.errors import TemplateError
from occmer.faces.topology import N_POINTS
from occmer.frames import declared_size
from occmer.occluders.warps import MIN_ANCHORS, WARPS, Warp

REQUIRED_KEYS = ("image", "anchors")
OPTIONAL_KEYS = ("warp", "points", "temples", "family", "variant", "description", "format", "version", "px_per_unit")
MAX_IMAGE_SIDE = 8192


@dataclass(frozen=True)
class Temples:
    """Glasses arms: lines from two named template points to two landmarks (the ears)."""

    start: tuple[str, str]
    end: tuple[int, int]
    rgb: tuple[float, float, float]
    width: float  # template pixels


@dataclass(frozen=True)
class Template:
    """A validated template: straight-alpha RGBA image and anchors in template pixels.

    Template pixel coordinates put pixel i's area at [i, i + 1) (so the image spans
    [0, w] x [0, h]).
    """

    path: Path
    rgba: np.ndarray
    anchors: dict[int, tuple[float, float]]
    warp: str
    family: str = "custom"
    variant: str = ""
    points: dict[str, tuple[float, float]] = field(default_factory=dict)
    temples: Temples | None = None

    @property
    def name(self) -> str:
        return f"{self.family}_{self.variant}" if self.variant else self.path.stem


def templates_dir() -> Path:
    """The installed folder of built-in templates (works for editable and regular installs)."""
    return Path(str(resources.files("occmer.occluders") / "templates"))


def builtin_variants(family: str) -> list[str]:
    """Sorted variant names of a built-in family (files `<family>_<variant>.json`)."""
    return sorted(p.stem[len(family) + 1 :] for p in templates_dir().glob(f"{family}_*.json"))


@functools.lru_cache(maxsize=64)
def builtin_template(family: str, variant: str) -> Template:
    """A built-in template, loaded once per process."""
    return load_template(templates_dir() / f"{family}_{variant}.json")


def load_template(json_path: str | Path) -> Template:
    """Read and validate a template JSON and its image; raise TemplateError naming the fix."""
    path = Path(json_path)
    data = _read_json(path)
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise TemplateError(f"{path}: unknown key(s) {unknown}; allowed: {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise TemplateError(f"{path}: missing key(s) {missing}; a template needs an 'image' and its 'anchors'")
    anchors = _parse_anchors(path, data["anchors"])
    warp = data.get("warp") or ("similarity" if len(anchors) == 2 else "affine")
    if warp not in WARPS:
        raise TemplateError(f"{path}: unknown warp {warp!r}; choose one of {', '.join(WARPS)}")
    if len(anchors) < MIN_ANCHORS[warp]:
        raise TemplateError(
            f"{path}: the {warp!r} warp needs at least {MIN_ANCHORS[warp]} anchors, the file has {len(anchors)}; "
            "add anchors or choose a simpler warp"
        )
    rgba = _read_image(path, _image_path(path, data["image"]))
    _check_anchor_geometry(path, anchors, warp, rgba.shape[:2])
    points = _parse_points(path, data.get("points", {}))
    temples = _parse_temples(path, data["temples"], points) if data.get("temples") else None
    return Template(
        path=path,
        rgba=rgba,
        anchors=anchors,
        warp=warp,
        family=str(data.get("family", "custom")),
        variant=str(data.get("variant", "")),
        points=points,
        temples=temples,
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read the template file ({exc.strerror}); check the path") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except RecursionError:
        raise TemplateError(f"{path}: the JSON is nested too deeply to be a template (an object with 'image' and "
                            "'anchors')") from None
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: the template must be a JSON object with 'image' and 'anchors'")
    return data


def _xy(path: Path, what: str, value: Any) -> tuple[float, float]:
    ok = isinstance(value, (list, tuple)) and len(value) == 2
    ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok:
        raise TemplateError(f"{path}: {what} must be [x, y] with two finite numbers (template pixels), got {value!r}")
    return float(value[0]), float(value[1])


def _landmark_index(path: Path, key: Any) -> int:
    try:
        index = int(str(key), 10)
    except ValueError as exc:
        raise TemplateError(f"{path}: anchor {key!r} is not a landmark index; use mediapipe indices 0..{N_POINTS - 1}") from exc
    if not 0 <= index < N_POINTS:
        raise TemplateError(f"{path}: anchor {key!r} is out of range; mediapipe landmark indices are 0..{N_POINTS - 1}")
    return index


def _parse_anchors(path: Path, anchors: Any) -> dict[int, tuple[float, float]]:
    if not isinstance(anchors, dict) or not anchors:
        raise TemplateError(f"{path}: 'anchors' must be an object of landmark index -> [x, y], e.g. {{\"1\": [64, 80]}}")
    parsed = {_landmark_index(path, k): _xy(path, f"anchor {k!r}", v) for k, v in anchors.items()}
    if len(parsed) < 2:
        raise TemplateError(f"{path}: at least 2 anchors are needed to place a template; the file has {len(parsed)}")
    if len(set(parsed.values())) < len(parsed):
        raise TemplateError(f"{path}: two anchors share the same template pixel; each anchor needs its own point")
    return parsed


MIN_ANCHOR_GAP_PX = 1.0  # anchors closer than this pin nothing: the fit divides by their distance
MIN_ANCHOR_SPREAD = 0.02  # thinnest / widest extent of the anchors (below: on one line, the fit is singular)


def _check_anchor_geometry(path: Path, anchors: dict[int, tuple[float, float]], warp: str,
                           shape: tuple[int, int]) -> None:
    """Refuse anchors no warp can be fitted to stably: far outside the image, (nearly) on top of each
    other, or on one line for a warp that needs a plane (affine, perspective, tps)."""
    height, width = shape
    keys = list(anchors)
    points = np.array([anchors[k] for k in keys], np.float64)
    for key, (x, y) in zip(keys, points, strict=True):
        if not (-width <= x <= 2 * width and -height <= y <= 2 * height):
            raise TemplateError(f"{path}: anchor {key} at [{x:.4g}, {y:.4g}] is far outside the {width}x{height} "
                                "image; anchors are template pixels on (or near) the image")
    gaps = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    i, j = np.unravel_index(int(np.argmin(gaps)), gaps.shape)
    if gaps[i, j] < MIN_ANCHOR_GAP_PX:
        raise TemplateError(f"{path}: anchors {keys[i]} and {keys[j]} are {gaps[i, j]:.2g} px apart; anchors must be "
                            f"at least {MIN_ANCHOR_GAP_PX:g} px apart to pin the template")
    if warp == "similarity":
        return
    groups = [keys] if warp != "perspective" or len(keys) != 4 else [keys] + [
        [k for k in keys if k != left_out] for left_out in keys]  # a homography from 4 points: no 3 on a line
    for group in groups:
        chosen = points[[keys.index(k) for k in group]]
        spread = np.linalg.svd(chosen - chosen.mean(0), compute_uv=False)
        if spread[1] < MIN_ANCHOR_SPREAD * spread[0]:
            raise TemplateError(f"{path}: anchors {', '.join(map(str, group))} lie (nearly) on one line; the "
                                f"{warp!r} warp needs anchors that span an area (move one off the line, or use "
                                "'similarity' with two anchors)")


def _parse_points(path: Path, points: Any) -> dict[str, tuple[float, float]]:
    if not isinstance(points, dict):
        raise TemplateError(f"{path}: 'points' must be an object of name -> [x, y]")
    return {str(k): _xy(path, f"point {k!r}", v) for k, v in points.items()}


def _parse_temples(path: Path, temples: Any, points: dict[str, tuple[float, float]]) -> Temples:
    fix = "'temples' needs 'from' (two names in 'points'), 'to' (two landmark indices), 'rgb' and 'width'"
    if not isinstance(temples, dict) or not {"from", "to", "rgb", "width"} <= set(temples):
        raise TemplateError(f"{path}: {fix}")
    start, end, rgb, width = temples["from"], temples["to"], temples["rgb"], temples["width"]
    if not (isinstance(start, list) and len(start) == 2 and all(s in points for s in start)):
        raise TemplateError(f"{path}: {fix}; 'from' = {start!r}")
    if not (isinstance(end, list) and len(end) == 2):
        raise TemplateError(f"{path}: {fix}; 'to' = {end!r}")
    rgb_ok = isinstance(rgb, list) and len(rgb) == 3 and all(isinstance(c, (int, float)) and 0 <= c <= 255 for c in rgb)
    if not rgb_ok or not isinstance(width, (int, float)) or not 0 < width < 1000:
        raise TemplateError(f"{path}: {fix}; 'rgb' must be 3 numbers in 0..255 and 'width' a positive number")
    return Temples(
        (str(start[0]), str(start[1])),
        (_landmark_index(path, end[0]), _landmark_index(path, end[1])),
        (float(rgb[0]), float(rgb[1]), float(rgb[2])),
        float(width),
    )


def _image_path(path: Path, image: Any) -> Path:
    """The image file, which must lie inside the JSON's own folder (no '..', no absolute paths)."""
    if not isinstance(image, str) or not image or "\x00" in image:
        raise TemplateError(f"{path}: 'image' must be the PNG's file name relative to the JSON's folder "
                            f"(got {image!r})")
    folder = path.resolve().parent
    candidate = (folder / image).resolve()
    if Path(image).is_absolute() or not candidate.is_relative_to(folder):
        raise TemplateError(
            f"{path}: image {image!r} escapes the template's folder {folder}; put the PNG next to the JSON "
            "(or in a subfolder) and name it relatively"
        )
    return candidate


def _read_image(path: Path, image_path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not image_path.is_file():
        raise TemplateError(f"{path}: image {image_path.name!r} not found in {image_path.parent}")
    declared = declared_size(np.fromfile(str(image_path), dtype=np.uint8))
    if declared is not None and max(declared) > MAX_IMAGE_SIDE:  # checked before any pixel is decoded
        raise TemplateError(f"{image_path}: image size {declared[0]}x{declared[1]} is outside 2..{MAX_IMAGE_SIDE} "
                            "pixels per side")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(image_path)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise TemplateError(f"{image_path}: the template image declares more pixels than occmer decodes ({exc}); "
                            f"templates are at most {MAX_IMAGE_SIDE} pixels per side") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise TemplateError(f"{image_path}: cannot decode the template image ({exc}); it must be an RGBA PNG") from exc
    try:
        with im:
            fmt, mode, size = im.format, im.mode, im.size
            if fmt != "PNG" or mode != "RGBA":
                raise TemplateError(
                    f"{image_path}: the template image must be an RGBA PNG (it is {fmt} {mode}); "
                    "save it with an alpha channel, e.g. PIL's im.convert('RGBA').save(...)"
                )
            if max(size) > MAX_IMAGE_SIDE or min(size) < 2:
                raise TemplateError(f"{image_path}: image size {size} is outside 2..{MAX_IMAGE_SIDE} pixels per side")
            rgba = np.array(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise TemplateError(f"{image_path}: cannot decode the template image ({exc}); it must be an RGBA PNG") from exc
    if not rgba[:, :, 3].any():
        raise TemplateError(f"{image_path}: the image is fully transparent; nothing would be drawn")
    rgba.setflags(write=False)
    return rgba


# ---------------------------------------------------------------- rendering


@dataclass
class RenderedTemplate:
    """A template warped into a frame: straight colour, alpha, the warp and a record."""

    color: np.ndarray  # float32 (H, W, 3)
    alpha: np.ndarray  # float32 (H, W)
    warp: Warp
    params: dict[str, Any]


def _pyramid(rgba: np.ndarray, scale: float) -> tuple[np.ndarray, int]:
    """Premultiplied float RGBA halved until the warp's scale is >= 0.5 (no aliasing)."""
    image = rgba.astype(np.float32) / 255.0
    premult = np.dstack([image[:, :, :3] * image[:, :, 3:] * 255.0, image[:, :, 3]])
    level = 0
    while scale * (2**level) < 0.5 and min(premult.shape[:2]) > 8:
        premult = cv2.pyrDown(premult)
        level += 1
    return premult, level


def _landmark_points(template: Template, landmarks: np.ndarray, indices: list[int]) -> np.ndarray:
    if max(indices) >= len(landmarks):
        raise TemplateError(
            f"{template.path}: uses landmark {max(indices)} but the landmark set has {len(landmarks)} points; "
            "use the mediapipe backend (478 points) or anchors below that index"
        )
    return np.asarray(landmarks, np.float64)[indices]


def render_template(template: Template, shape: tuple[int, int], landmarks: np.ndarray) -> RenderedTemplate:
    """Warp a template onto a frame of `shape` (H, W) by its anchors' landmarks (pure function)."""
    indices = sorted(template.anchors)
    src = np.array([template.anchors[i] for i in indices], np.float64)
    dst = _landmark_points(template, landmarks, indices)
    scale = float(np.sqrt(dst.var(0).sum() / max(src.var(0).sum(), 1e-12)))
    premult, level = _pyramid(template.rgba, scale)
    factor = 0.5**level
    warp = WARPS[template.warp](src * factor - 0.5, dst)
    out = warp.render(premult, shape)
    alpha = np.clip(out[:, :, 3], 0.0, 1.0)
    color = np.where(alpha[:, :, None] > 1e-4, out[:, :, :3] / np.maximum(alpha[:, :, None], 1e-4), 0.0)
    points = {
        name: [round(float(v), 3) for v in warp.forward(np.array(p) * factor - 0.5)[0]]
        for name, p in template.points.items()
    }
    params: dict[str, Any] = {
        "template": template.name,
        "variant": template.variant,
        "anchors": indices,
        "warp": warp.record(),
        "pyramid_level": level,
        "points": points,
    }
    if template.temples is not None:
        color, alpha, params["temples"] = _add_temples(template, warp, factor, landmarks, color, alpha)
    return RenderedTemplate(color.astype(np.float32), alpha.astype(np.float32), warp, params)


def _add_temples(
    template: Template, warp: Warp, factor: float, landmarks: np.ndarray, color: np.ndarray, alpha: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list]:
    """Draw the glasses' arms under the front, from the hinges towards the ears."""
    spec = template.temples
    assert spec is not None
    h, w = alpha.shape
    ends = _landmark_points(template, landmarks, list(spec.end))
    starts = warp.forward(np.array([template.points[s] for s in spec.start]) * factor - 0.5)
    # the arm width in frame pixels: how far the warp moves two template points one arm-width apart
    probe = np.array([template.points[spec.start[0]], np.add(template.points[spec.start[0]], (0.0, spec.width))])
    moved = warp.forward(probe * factor - 0.5)
    width_px = max(1.0, float(np.linalg.norm(moved[1] - moved[0])))
    mask = np.zeros((h, w), np.uint8)
    for a, b in zip(starts, ends, strict=True):
        p0, p1 = np.round(a * 16).astype(int), np.round(b * 16).astype(int)
        cv2.line(mask, tuple(int(v) for v in p0), tuple(int(v) for v in p1), 255, max(1, round(width_px)), cv2.LINE_AA, 4)
    arm = mask.astype(np.float32) / 255.0
    out_alpha = alpha + arm * (1.0 - alpha)
    rgb = np.array(spec.rgb, np.float32)
    premult = color * alpha[:, :, None] + rgb * (arm * (1.0 - alpha))[:, :, None]
    out_color = np.where(out_alpha[:, :, None] > 1e-4, premult / np.maximum(out_alpha[:, :, None], 1e-4), 0.0)
    record = [[[round(float(v), 3) for v in a], [round(float(v), 3) for v in b]] for a, b in zip(starts, ends, strict=True)]
    return out_color, out_alpha, record
