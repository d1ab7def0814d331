"""Draw occmer's built-in occluder templates: RGBA PNGs + JSON anchor files.

Everything is procedural (shapes, gradients and seeded patterns; no third-party
images), so a run of this script reproduces the installed templates bit for bit:

    python masks/draw.py            # writes occmer/occluders/templates/*.png|json
    python masks/draw.py --out DIR  # somewhere else, e.g. to compare

Templates are drawn in a canonical frontal face whose unit is the distance between
the pupils, origin at their midpoint, y pointing down; CANON gives the canonical
position of every mediapipe landmark a template is anchored on. The JSON files list
those anchors in template pixels (keys are landmark indices), the warp to use, and
extra named points (lens centres, temple hinges) the occluder records.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

PX_PER_UNIT = 160  # template pixels per inter-pupil distance
SUPERSAMPLE = 4
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "occmer" / "occluders" / "templates"

# Canonical frontal face, subject's right side at negative x (image left). Built from
# the right half and mirrored: (right index, left index, x, y) with x <= 0.
_PAIRS = [
    (33, 263, -0.70, 0.00), (133, 362, -0.27, 0.05), (468, 473, -0.50, 0.00),
    (70, 300, -0.89, -0.20), (105, 334, -0.63, -0.31), (107, 336, -0.22, -0.26),
    (98, 327, -0.30, 0.65), (61, 291, -0.45, 0.95), (118, 347, -0.70, 0.28), (205, 425, -0.65, 0.60),
    (127, 356, -1.10, 0.05), (234, 454, -1.10, 0.25), (93, 323, -1.09, 0.46), (132, 361, -1.06, 0.68),
    (58, 288, -1.00, 0.93), (172, 397, -0.91, 1.12), (136, 365, -0.80, 1.28), (150, 379, -0.66, 1.42),
    (149, 378, -0.52, 1.53), (176, 400, -0.38, 1.62), (148, 377, -0.21, 1.69),
]
_MIDLINE = {168: -0.02, 6: 0.09, 197: 0.20, 195: 0.31, 5: 0.42, 1: 0.65, 0: 0.92, 17: 1.22, 152: 1.71}
CANON: dict[int, tuple[float, float]] = {i: (0.0, y) for i, y in _MIDLINE.items()}
for _r, _l, _x, _y in _PAIRS:
    CANON[_r] = (_x, _y)
    CANON[_l] = (-_x, _y)

GLASSES_ANCHORS = (33, 133, 362, 263, 105, 334, 168, 6)
MASK_ANCHORS = (
    234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454,
    195, 1, 118, 347, 205, 425, 17,
)


def closed_spline(points: Sequence[tuple[float, float]], samples: int = 24) -> np.ndarray:
    """A smooth closed curve through control points (centripetal-free Catmull-Rom)."""
    p = np.asarray(points, np.float64)
    n = len(p)
    out = []
    for i in range(n):
        p0, p1, p2, p3 = p[(i - 1) % n], p[i], p[(i + 1) % n], p[(i + 2) % n]
        for t in np.linspace(0, 1, samples, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(
                0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3)
            )
    return np.array(out)


def mirrored_outline(right_half: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """A symmetric closed outline from its right half, listed top (x = 0) to bottom (x = 0)."""
    half = list(right_half)
    return half + [(-x, y) for x, y in reversed(half[1:-1])]


@dataclass
class Canvas:
    """A supersampled premultiplied RGBA canvas in face units."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    color: np.ndarray = field(init=False)
    alpha: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        w = round((self.x_range[1] - self.x_range[0]) * PX_PER_UNIT)
        h = round((self.y_range[1] - self.y_range[0]) * PX_PER_UNIT)
        self.size = (w, h)
        self.color = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE, 3), np.float32)
        self.alpha = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE), np.float32)

    def template_px(self, points: np.ndarray) -> np.ndarray:
        """Face units -> final template pixels."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        return np.stack([(p[:, 0] - self.x_range[0]) * PX_PER_UNIT, (p[:, 1] - self.y_range[0]) * PX_PER_UNIT], 1)

    def _ss(self, points: np.ndarray) -> np.ndarray:
        return np.round(self.template_px(points) * SUPERSAMPLE * 16).astype(np.int32)  # 4 fractional bits

    def shape_mask(self, polygon: np.ndarray | None = None, polyline: np.ndarray | None = None,
                   width: float = 0.0, closed: bool = False) -> np.ndarray:
        """A float 0/1 mask (supersampled) of a filled polygon or a stroked polyline (width in units)."""
        mask = np.zeros(self.alpha.shape, np.uint8)
        if polygon is not None:
            cv2.fillPoly(mask, [self._ss(polygon)], 1, lineType=cv2.LINE_8, shift=4)
        if polyline is not None:
            thickness = max(1, round(width * PX_PER_UNIT * SUPERSAMPLE))
            cv2.polylines(mask, [self._ss(polyline)], closed, 1, thickness=thickness, lineType=cv2.LINE_8, shift=4)
        return mask.astype(np.float32)

    def paint(self, coverage: np.ndarray, color: np.ndarray | Sequence[float], opacity: float | np.ndarray = 1.0) -> None:
        """Paint `color` (RGB or an RGB image) where `coverage` is set, over what is there."""
        a = np.clip(coverage * opacity, 0, 1)
        rgb = np.broadcast_to(np.asarray(color, np.float32), self.color.shape)
        self.color = rgb * a[:, :, None] + self.color * (1 - a[:, :, None])
        self.alpha = a + self.alpha * (1 - a)

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) in face units of every supersampled pixel centre."""
        h, w = self.alpha.shape
        xs = self.x_range[0] + (np.arange(w) + 0.5) / (PX_PER_UNIT * SUPERSAMPLE)
        ys = self.y_range[0] + (np.arange(h) + 0.5) / (PX_PER_UNIT * SUPERSAMPLE)
        return np.meshgrid(xs.astype(np.float32), ys.astype(np.float32))

    def rgba(self) -> np.ndarray:
        """The final (h, w, 4) uint8 straight-alpha image, downsampled with area averaging."""
        w, h = self.size
        premult = cv2.resize(self.color * self.alpha[:, :, None], (w, h), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(self.alpha, (w, h), interpolation=cv2.INTER_AREA)
        rgb = np.where(alpha[:, :, None] > 1e-4, premult / np.maximum(alpha[:, :, None], 1e-4), 0)
        out = np.dstack([np.clip(rgb, 0, 255), np.clip(alpha * 255, 0, 255)])
        return np.rint(out).astype(np.uint8)


# ---------------------------------------------------------------- glasses

@dataclass(frozen=True)
class GlassesStyle:
    """One glasses or sunglasses variant."""

    lens: str  # "rect" or "round"
    frame_rgb: tuple[float, float, float]
    frame_width: float  # units
    lens_top_rgb: tuple[float, float, float]
    lens_bottom_rgb: tuple[float, float, float]
    lens_opacity: float
    highlight_opacity: float
    tortoise: bool = False


GLASSES = {
    "glasses": {
        "black-rect": GlassesStyle("rect", (28, 28, 30), 0.055, (228, 234, 240), (236, 240, 244), 0.14, 0.30),
        "tortoise-rect": GlassesStyle("rect", (96, 58, 30), 0.06, (232, 230, 222), (238, 236, 230), 0.14, 0.30, True),
        "gold-round": GlassesStyle("round", (186, 152, 84), 0.03, (230, 236, 240), (236, 240, 244), 0.12, 0.28),
    },
    "sunglasses": {
        "black-rect": GlassesStyle("rect", (22, 22, 24), 0.065, (14, 15, 18), (42, 44, 50), 0.92, 0.22),
        "brown-round": GlassesStyle("round", (170, 140, 80), 0.035, (44, 28, 16), (110, 78, 48), 0.88, 0.22),
        "black-aviator": GlassesStyle("aviator", (150, 150, 155), 0.03, (20, 26, 22), (58, 70, 60), 0.90, 0.22),
    },
}
LENS_CENTER = 0.5  # lenses are centred on the pupils (x = +-0.5, y = 0)


def lens_outline(kind: str, side: float) -> np.ndarray:
    """Closed outline (units) of the lens centred on the pupil at x = side * 0.5."""
    cx = side * LENS_CENTER
    if kind == "round":
        t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
        return np.stack([cx + 0.35 * np.cos(t), 0.02 + 0.30 * np.sin(t)], 1)
    if kind == "aviator":
        half = [(0.0, -0.27), (0.22, -0.25), (0.36, -0.12), (0.36, 0.12), (0.22, 0.34), (0.0, 0.36), (-0.2, 0.25),
                (-0.32, 0.05), (-0.34, -0.16), (-0.2, -0.26)]
        pts = closed_spline([(cx + side * x, y) for x, y in half], 12)
        return pts
    # rounded rectangle, slightly wider at the top like most frames
    ctrl = [(-0.34, -0.22), (0.0, -0.25), (0.36, -0.22), (0.39, 0.02), (0.33, 0.22), (0.0, 0.26),
            (-0.31, 0.22), (-0.37, 0.02)]
    return closed_spline([(cx + side * x, y) for x, y in ctrl], 16)


def tortoise_texture(canvas: Canvas, base: tuple[float, float, float], rng: np.random.Generator) -> np.ndarray:
    """A mottled brown pattern: smoothed noise mapped between dark and amber."""
    h, w = canvas.alpha.shape
    noise = rng.random((h // 16 + 2, w // 16 + 2)).astype(np.float32)
    smooth = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    t = np.clip((smooth - 0.35) * 2.2, 0, 1)[:, :, None]
    dark = np.array([38, 20, 10], np.float32)
    amber = np.array(base, np.float32) * 1.6
    return dark * (1 - t) + np.clip(amber, 0, 255) * t


def draw_glasses(style: GlassesStyle, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    canvas = Canvas((-1.15, 1.15), (-0.55, 0.50))
    gx, gy = canvas.grid()
    lenses = [lens_outline(style.lens, side) for side in (-1.0, 1.0)]
    # lenses: a vertical gradient tint and one diagonal highlight band per lens
    t = np.clip((gy + 0.25) / 0.55, 0, 1)[:, :, None]
    tint = np.array(style.lens_top_rgb, np.float32) * (1 - t) + np.array(style.lens_bottom_rgb, np.float32) * t
    for outline in lenses:
        inside = canvas.shape_mask(polygon=outline)
        canvas.paint(inside, tint, style.lens_opacity)
        cx = outline[:, 0].mean()
        band = np.exp(-(((gx - cx) + 0.6 * (gy + 0.05) - 0.10) / 0.045) ** 2)
        canvas.paint(inside * band, (255, 255, 255), style.highlight_opacity)
    frame_rgb = tortoise_texture(canvas, style.frame_rgb, rng) if style.tortoise else style.frame_rgb
    strokes = np.zeros(canvas.alpha.shape, np.float32)
    for outline in lenses:
        strokes = np.maximum(strokes, canvas.shape_mask(polyline=outline, width=style.frame_width, closed=True))
    # bridge between the lenses and the end pieces that carry the hinges
    inner = [o[np.argmin(np.abs(o[:, 0]))] for o in lenses]
    bridge = np.array([[inner[0][0] - 0.02, -0.10], [-0.08, -0.16], [0.08, -0.16], [inner[1][0] + 0.02, -0.10]])
    strokes = np.maximum(strokes, canvas.shape_mask(polyline=bridge, width=style.frame_width * 0.9))
    hinges = {}
    for side, outline, name in ((-1.0, lenses[0], "hinge_right"), (1.0, lenses[1], "hinge_left")):
        outer = outline[np.argmax(side * outline[:, 0] - 2.0 * np.abs(outline[:, 1] + 0.10))]
        tip = np.array([side * 1.00, -0.12])
        strokes = np.maximum(strokes, canvas.shape_mask(polyline=np.array([outer, tip]), width=style.frame_width * 1.2))
        hinges[name] = tip
    canvas.paint(strokes, frame_rgb, 1.0)
    # a thin light rim on the upper edge of the frame, as from an overhead light
    rim = canvas.shape_mask(polyline=np.concatenate([o[o[:, 1] < -0.05] for o in lenses]), width=0.01)
    canvas.paint(rim * strokes, (255, 255, 255), 0.25)
    points = {
        "lens_right": canvas.template_px(np.array([-LENS_CENTER, 0.0]))[0],
        "lens_left": canvas.template_px(np.array([LENS_CENTER, 0.0]))[0],
        **{k: canvas.template_px(v)[0] for k, v in hinges.items()},
    }
    meta = {
        "warp": "perspective",
        "anchors": {str(i): canvas.template_px(np.array(CANON[i]))[0] for i in GLASSES_ANCHORS},
        "points": points,
        "temples": {
            "from": ["hinge_right", "hinge_left"],
            "to": [127, 356],
            "rgb": list(np.asarray(style.frame_rgb, float)),
            "width": round(style.frame_width * 1.1 * PX_PER_UNIT, 2),
        },
    }
    return canvas.rgba(), meta


# ---------------------------------------------------------------- face masks

@dataclass(frozen=True)
class MaskStyle:
    """One face-mask variant."""

    shape: str  # "surgical", "n95" or "cloth"
    rgb: tuple[float, float, float]
    pattern: str = "plain"  # plain, stripes, dots, plaid
    accent: tuple[float, float, float] = (255, 255, 255)
    valve: bool = False


MASKS = {
    "surgical": {
        "blue": MaskStyle("surgical", (128, 176, 214)),
        "white": MaskStyle("surgical", (232, 236, 238)),
        "green": MaskStyle("surgical", (150, 198, 178)),
        "black": MaskStyle("surgical", (42, 42, 46)),
    },
    "n95": {
        "white": MaskStyle("n95", (238, 238, 232)),
        "white-valve": MaskStyle("n95", (238, 238, 232), valve=True),
        "gray": MaskStyle("n95", (150, 152, 156)),
    },
    "cloth": {
        "navy-stripes": MaskStyle("cloth", (34, 48, 92), "stripes", (220, 220, 226)),
        "red-dots": MaskStyle("cloth", (170, 36, 44), "dots", (244, 236, 226)),
        "gray-plaid": MaskStyle("cloth", (120, 124, 128), "plaid", (60, 64, 70)),
        "black-plain": MaskStyle("cloth", (30, 30, 32)),
    },
}

# Right halves of the outlines, from the top centre to the bottom centre (units).
OUTLINES = {
    "surgical": [(0.0, 0.14), (-0.35, 0.19), (-0.62, 0.24), (-0.92, 0.27), (-1.14, 0.30), (-1.15, 0.62),
                 (-1.10, 0.96), (-0.96, 1.30), (-0.62, 1.66), (-0.30, 1.80), (0.0, 1.83)],
    "n95": [(0.0, 0.12), (-0.30, 0.17), (-0.60, 0.29), (-0.88, 0.50), (-0.98, 0.76), (-0.90, 1.10),
            (-0.64, 1.50), (-0.32, 1.74), (0.0, 1.80)],
    "cloth": [(0.0, 0.13), (-0.38, 0.20), (-0.72, 0.28), (-1.13, 0.33), (-1.14, 0.70), (-1.06, 1.02),
              (-0.84, 1.40), (-0.46, 1.72), (0.0, 1.84)],
}


def mask_pattern(style: MaskStyle, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The cloth colour field (h, w, 3) of a variant: plain, stripes, dots or plaid."""
    base = np.broadcast_to(np.array(style.rgb, np.float32), (*gx.shape, 3)).copy()
    accent = np.array(style.accent, np.float32)
    if style.pattern == "stripes":
        on = (np.mod(gy * 7.0, 1.0) < 0.28).astype(np.float32)
    elif style.pattern == "dots":
        u, v = np.mod(gx * 6.0 + 0.5 * np.floor(gy * 6.0), 1.0) - 0.5, np.mod(gy * 6.0, 1.0) - 0.5
        on = np.clip((0.2 - np.sqrt(u * u + v * v)) * 40, 0, 1)
    elif style.pattern == "plaid":
        on = 0.5 * (np.mod(gx * 4.0, 1.0) < 0.22) + 0.5 * (np.mod(gy * 4.0, 1.0) < 0.22)
    else:
        on = np.zeros(gx.shape, np.float32)
    return base * (1 - on[:, :, None]) + accent * on[:, :, None]


def draw_mask(style: MaskStyle, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    canvas = Canvas((-1.40, 1.40), (-0.05, 2.00))
    gx, gy = canvas.grid()
    outline = closed_spline(mirrored_outline(OUTLINES[style.shape]), 16)
    body = canvas.shape_mask(polygon=outline)
    cloth = mask_pattern(style, gx, gy)
    # fabric grain: fine seeded noise, a few percent of brightness
    h, w = body.shape
    grain = cv2.resize(rng.normal(0, 1, (h // 4, w // 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    shade = 1.0 + 0.03 * grain
    if style.shape == "surgical":
        for y in (0.58, 0.86, 1.14):  # horizontal pleats: a dark fold under a light crest
            shade *= 1.0 - 0.10 * np.exp(-((gy - y - 0.035) / 0.025) ** 2) + 0.05 * np.exp(-((gy - y) / 0.03) ** 2)
    elif style.shape == "n95":  # a dome, lit from the front
        shade *= 1.04 - 0.16 * np.clip(((gx / 1.0) ** 2 + ((gy - 0.95) / 0.9) ** 2), 0, 1.5)
    else:  # cloth: a soft fold either side of the centre seam
        shade *= 1.0 - 0.08 * np.exp(-((np.abs(gx) - 0.55) / 0.25) ** 2)
    canvas.paint(body, np.clip(cloth * shade[:, :, None], 0, 255), 1.0)
    edge_rgb = np.clip(np.array(style.rgb, np.float32) * 0.82, 0, 255)
    canvas.paint(canvas.shape_mask(polyline=outline, width=0.035, closed=True) * body, edge_rgb, 0.8)
    if style.shape == "surgical":  # the nose wire along the top edge
        wire = np.array([(x, 0.14 + 0.11 * (abs(x) / 0.5) ** 1.5) for x in np.linspace(-0.45, 0.45, 30)])
        canvas.paint(canvas.shape_mask(polyline=wire + [0, 0.045], width=0.025), (245, 245, 245), 0.5)
    if style.shape in ("n95", "cloth"):  # centre seam
        seam = np.array([(0.0, y) for y in np.linspace(0.14, 1.8, 20)])
        canvas.paint(canvas.shape_mask(polyline=seam, width=0.014) * body, edge_rgb * 0.85, 0.7)
    if style.valve:
        t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
        ring = np.stack([0.48 + 0.17 * np.cos(t), 1.05 + 0.17 * np.sin(t)], 1)
        canvas.paint(canvas.shape_mask(polygon=ring), (205, 206, 208), 1.0)
        canvas.paint(canvas.shape_mask(polyline=ring, width=0.03, closed=True), (150, 152, 156), 1.0)
    loop_rgb = (240, 240, 240) if style.shape == "surgical" else edge_rgb
    for side in (-1.0, 1.0):  # ear loops / straps leaving the sides towards the ears
        half = OUTLINES[style.shape]
        top = max(half, key=lambda p: -p[0] - 3 * abs(p[1] - 0.4))
        low = max(half, key=lambda p: -p[0] - 3 * abs(p[1] - 1.0))
        t = np.linspace(0.0, np.pi, 40)  # a rounded loop bulging out from the mask's side
        x_edge = 0.5 * (abs(top[0]) + abs(low[0]))
        loop = np.stack([side * (x_edge + 0.20 * np.sin(t)), top[1] + (low[1] - top[1]) * (1 - np.cos(t)) / 2], 1)
        canvas.paint(canvas.shape_mask(polyline=loop, width=0.03) * (1 - body), loop_rgb, 1.0)
    meta = {
        "warp": "tps",
        "anchors": {str(i): canvas.template_px(np.array(CANON[i]))[0] for i in MASK_ANCHORS},
        "points": {"nose_bridge": canvas.template_px(np.array(OUTLINES[style.shape][0]))[0]},
    }
    return canvas.rgba(), meta


# ---------------------------------------------------------------- writing

def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return round(float(value), 3)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_template(out: Path, family: str, variant: str, rgba: np.ndarray, meta: dict) -> None:
    """Write <family>_<variant>.png and its JSON next to it."""
    stem = f"{family}_{variant}"
    cv2.imwrite(str(out / f"{stem}.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    record = {
        "format": "occmer-template",
        "version": 1,
        "family": family,
        "variant": variant,
        "image": f"{stem}.png",
        "px_per_unit": PX_PER_UNIT,
        **meta,
    }
    text = json.dumps(_jsonable(record), indent=1)
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    (out / f"{stem}.json").write_text(text + "\n")


def all_templates() -> list[tuple[str, str, Callable[[np.random.Generator], tuple[np.ndarray, dict]]]]:
    """(family, variant, drawing function) of every built-in template."""
    out = []
    for family, styles in GLASSES.items():
        for variant, style in styles.items():
            out.append((family, variant, lambda rng, s=style: draw_glasses(s, rng)))
    for family, styles in MASKS.items():
        for variant, style in styles.items():
            out.append((family, variant, lambda rng, s=style: draw_mask(s, rng)))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: the installed one)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for index, (family, variant, draw) in enumerate(all_templates()):
        rgba, meta = draw(np.random.default_rng(1000 + index))
        write_template(args.out, family, variant, rgba, meta)
        print(f"{family}_{variant}: {rgba.shape[1]}x{rgba.shape[0]}")


if __name__ == "__main__":
    main()
