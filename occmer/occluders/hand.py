"""`hand`: a procedurally drawn hand, skin tone matched to the face, resting or passing.

Resting poses (`--variant`): `chin` (fingers up under the chin, tips at the lower lip),
`cheek-left` / `cheek-right` (palm on the cheek on that side of the image, fingers
towards the temple). A resting hand is placed once and moves with the head like any
occluder. With `--hand-path DIRECTION[:ENTER:LEAVE]` the hand instead *passes* over the
face during the clip: it enters from one side of the crop on frame ENTER and has left by
the other side on frame LEAVE, at constant speed, through the nose; it is absent before
and after. Its own per-frame transform is stored with the clip (`occluder_motion`,
`occluder_visible`), like the occlusion alpha, so features can mask it.

The hand (palm, four fingers, thumb; three shapes: `flat`, `spread`, `relaxed`) is drawn
in code at 4x and area-downsampled, sized by the outer eye-corner distance, coloured with
the face's own skin tone (the median colour of the cheeks) and shaded like the templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from occmer.errors import ConfigError
from occmer.faces import topology as topo
from occmer.occluders import shading as sh
from occmer.occluders.base import LayerMotion, Occluder, OccluderLayer
from occmer.occluders.compositing import feather
from occmer.occluders.options import OccluderOption
from occmer.occluders.template_occluder import SHADING_OPTION, VARIANT_OPTION, parse_shading

POSES = ("chin", "cheek-left", "cheek-right")
SHAPES = ("flat", "spread", "relaxed")
DIRECTIONS = ("left", "right", "up", "down")  # where the hand travels to
SUPERSAMPLE = 4
CHEEK_POINTS = (50, 101, 205, 280, 330, 425)  # mid-cheek landmarks: where the skin tone is read


@dataclass(frozen=True)
class HandPath:
    """A hand passing over the face: travel direction and the frames it enters and leaves on.

    enter / leave: an int is a position in the stored clip (0-based, negative from the end),
    a float in [0, 1] a fraction of the clip.
    """

    direction: str
    enter: float | int = 0.0
    leave: float | int = 1.0

    def frames(self, n_frames: int) -> tuple[int, int]:
        """(enter, leave) positions in a clip of n_frames, enter < leave."""
        def position(value: float | int) -> int:
            if isinstance(value, int):
                return value if value >= 0 else n_frames + value
            return int(round(value * (n_frames - 1)))

        enter, leave = position(self.enter), position(self.leave)
        enter, leave = min(max(enter, 0), n_frames - 1), min(max(leave, 0), n_frames - 1)
        if leave <= enter:
            raise ConfigError(
                f"--hand-path: the hand enters on frame {enter} and leaves on frame {leave} of a {n_frames}-frame clip; "
                "it must leave after it enters (give ENTER < LEAVE, e.g. left:0.2:0.8)"
            )
        return enter, leave

    def spec(self) -> str:
        return f"{self.direction}:{self.enter}:{self.leave}"


def parse_hand_path(value: Any) -> HandPath | None:
    """`--hand-path DIRECTION[:ENTER:LEAVE]`, e.g. `right`, `left:0.2:0.8`, `up:3:-3`."""
    if value is None or value == "":
        return None
    if isinstance(value, HandPath):
        return value
    parts = str(value).split(":")
    fix = ("--hand-path must be DIRECTION[:ENTER:LEAVE] with DIRECTION one of "
           f"{', '.join(DIRECTIONS)} and ENTER/LEAVE frame positions (0, 5, -1) or clip fractions (0.2, 0.8); "
           f"got {value!r}")
    if parts[0] not in DIRECTIONS or len(parts) not in (1, 3):
        raise ConfigError(fix)
    if len(parts) == 1:
        return HandPath(parts[0])

    def number(text: str) -> float | int:
        try:
            if "." in text:
                fraction = float(text)
                if not 0.0 <= fraction <= 1.0:
                    raise ConfigError(fix)
                return fraction
            return int(text)
        except ValueError as exc:
            raise ConfigError(fix) from exc

    return HandPath(parts[0], number(parts[1]), number(parts[2]))


def _capsule(canvas: np.ndarray, a: np.ndarray, b: np.ndarray, width: float, value: int) -> None:
    """A finger: a thick line with round ends, in supersampled pixels."""
    pa, pb = (tuple(int(v) for v in np.round(p * SUPERSAMPLE)) for p in (a, b))
    cv2.line(canvas, pa, pb, value, max(1, int(round(width * SUPERSAMPLE))), cv2.LINE_AA)


def draw_hand(
    shape: tuple[int, int], centre: np.ndarray, unit: float, angle: float, style: str, mirror: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(coverage (H, W) float32 0..1, crease darkness (H, W) float32 0..1) of one hand.

    centre: palm centre (frame px); unit: outer eye-corner distance (px); angle: radians,
    0 = fingers pointing up; mirror: thumb on the image's left instead of its right.
    """
    h, w = shape
    side = -1.0 if mirror else 1.0
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def to_frame(points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, np.float64) * [side, 1.0]
        return pts @ rot.T * unit + centre

    spread = {"flat": 0.03, "spread": 0.16, "relaxed": 0.07}[style]
    curl = {"flat": 1.0, "spread": 1.0, "relaxed": 0.8}[style]
    big = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE), np.uint8)
    crease = np.zeros_like(big)
    palm = cv2.ellipse2Poly((0, 0), (460, 560), 0, 0, 360, 10).astype(np.float64) / 1000.0
    palm_px = np.round(to_frame(palm) * SUPERSAMPLE).astype(np.int32)
    cv2.fillPoly(big, [palm_px], 255, cv2.LINE_AA)
    lengths = np.array([0.62, 0.80, 0.86, 0.76]) * curl
    bases = np.array([[-0.33, -0.38], [-0.11, -0.48], [0.11, -0.5], [0.33, -0.42]])
    width = 0.21
    for i, (base, length) in enumerate(zip(bases, lengths, strict=True)):
        tilt = (i - 1.5) * spread
        tip = base + length * np.array([np.sin(tilt), -np.cos(tilt)])
        a, b = to_frame(base[None])[0], to_frame(tip[None])[0]
        _capsule(big, a, b, width * unit, 255)
        # the crease between this finger and the next: a thin dark line along its side
        if i < 3:
            edge = np.array([width / 2 * np.cos(tilt), width / 2 * np.sin(tilt)])
            _capsule(crease, to_frame((base + edge)[None])[0], to_frame((tip + edge * 0.9)[None])[0], 0.02 * unit, 255)
    thumb_base, thumb_tip = np.array([0.40, 0.15]), np.array([0.78, -0.30 + 0.25 * (1 - curl)])
    _capsule(big, to_frame(thumb_base[None])[0], to_frame(thumb_tip[None])[0], 0.25 * unit, 255)
    coverage = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    lines = cv2.resize(crease, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return coverage, lines * coverage


def skin_tone(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The face's skin colour (RGB, 3): the median of small patches around the mid-cheeks."""
    h, w = frame.shape[:2]
    rgb = frame if frame.ndim == 3 and frame.shape[2] == 3 else np.repeat(frame.reshape(h, w, 1), 3, axis=2)
    face = topo.face_region_mask(landmarks, (h, w))
    radius = max(2, int(np.sqrt(face.sum()) * 0.03))
    patches = []
    for i in CHEEK_POINTS:
        x, y = (int(round(v)) for v in landmarks[i])
        patch = rgb[max(y - radius, 0) : y + radius + 1, max(x - radius, 0) : x + radius + 1].reshape(-1, 3)
        patches.append(patch)
    pixels = np.concatenate(patches) if patches else rgb[face]
    return np.median(pixels.astype(np.float32), axis=0) if len(pixels) else np.full(3, 170.0, np.float32)


def check_hand_path(value: str) -> str:
    """`--hand-path` as given, once it parses: a bad path stops before the database is scanned."""
    parse_hand_path(value)
    return value


HAND_PATH_OPTION = OccluderOption(
    "hand_path", "hand: pass over the face instead of resting: DIRECTION[:ENTER:LEAVE], DIRECTION = left, right, up or "
    "down (where it travels), ENTER/LEAVE = frame positions in the clip (0, 5, -1) or fractions (0.2, 0.8); "
    "e.g. right:0.2:0.8.", parse=check_hand_path, checked=True,
    refusal="--hand-path moves a hand; it needs --mask {takers} (or random with hand in --choices), not {mask!r}")


class HandOccluder(Occluder):
    """A hand resting on the chin or a cheek, or passing over the face (`--hand-path`)."""

    name: ClassVar[str] = "hand"
    description: ClassVar[str] = "a hand resting on the chin or a cheek, or passing over the face (--hand-path)"
    options: ClassVar[tuple[str, ...]] = (VARIANT_OPTION.key, SHADING_OPTION.key, HAND_PATH_OPTION.key)
    illumination_strength: ClassVar[float] = 0.7
    feather_px: ClassVar[float] = 0.5

    def __init__(self, pose: str | None = None, path: HandPath | None = None, shading: bool = True) -> None:
        if pose is not None and pose not in POSES:
            raise ConfigError(f"occluder 'hand': unknown --variant {pose!r}; choose one of {', '.join(POSES)}")
        if pose is not None and path is not None:
            raise ConfigError("occluder 'hand': give either --variant (a resting pose) or --hand-path (a passing hand)")
        self.pose, self.path, self.shading = pose, path, shading

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> HandOccluder:
        if options.get("mask_motion") == "skin" and not options.get("within_random"):
            raise ConfigError("occluder 'hand': --mask-motion skin is for the fabric masks (surgical, n95, cloth)")
        return cls(options.get("variant") or None, parse_hand_path(options.get("hand_path")),
                   parse_shading(options.get("shading")))

    def place(self, frame: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> OccluderLayer:
        h, w = frame.shape[:2]
        lm = np.asarray(landmarks, np.float64)
        unit = float(np.linalg.norm(lm[topo.LEFT_EYE_OUTER] - lm[topo.RIGHT_EYE_OUTER]))
        roll = float(np.arctan2(*(lm[topo.LEFT_EYE_OUTER] - lm[topo.RIGHT_EYE_OUTER])[::-1]))
        style = SHAPES[int(rng.integers(len(SHAPES)))]
        pose = "pass" if self.path is not None else (self.pose or POSES[int(rng.integers(len(POSES)))])
        mirror = bool(rng.integers(2))
        jitter = rng.uniform(-1.0, 1.0, size=3)  # small variations in where and how it rests
        if pose == "chin":
            angle = roll + 0.15 * jitter[0]
            centre = lm[152] + np.array([0.05 * jitter[1], 0.8 + 0.05 * jitter[2]]) * unit
        elif pose in ("cheek-left", "cheek-right"):
            on_left = pose == "cheek-left"  # the image's left
            left_cheek, right_cheek = sorted((lm[205], lm[425]), key=lambda p: p[0])
            cheek = left_cheek if on_left else right_cheek
            outward = -1.0 if on_left else 1.0
            angle = roll + outward * (0.35 + 0.1 * jitter[0])
            centre = cheek + np.array([outward * (0.35 + 0.05 * jitter[1]), 0.25 + 0.05 * jitter[2]]) * unit
            mirror = not on_left  # the thumb towards the face
        else:
            angle = roll + 0.15 * jitter[0]
            centre = lm[topo.NOSE_TIP] + np.array([0.0, 0.45]) * unit
        scale = unit * float(rng.uniform(0.95, 1.1))
        coverage, creases = draw_hand((h, w), centre, scale, angle, style, mirror)
        alpha = feather(coverage, self.feather_px)
        tone = skin_tone(frame, landmarks) * float(rng.uniform(0.9, 1.05))
        # a hand is lit like the face; the palm edge and creases a little darker
        # a rounded volume: brighter where the hand is thick (far from its outline), darker at
        # the edges and in the creases, with a faint fixed skin texture (drawn once per clip)
        depth = cv2.distanceTransform((coverage > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
        depth = np.sqrt(np.clip(depth / max(0.12 * unit, 1.0), 0.0, 1.0))
        texture = cv2.GaussianBlur(rng.normal(0.0, 1.0, (h, w)).astype(np.float32), (0, 0), 0.8)
        relief = 0.8 + 0.2 * depth - 0.25 * creases + 0.03 * texture
        color = np.clip(tone[None, None, :] * relief[:, :, None], 0, 255).astype(np.float32)
        params: dict[str, Any] = {
            "family": self.name, "pose": pose, "shape": style, "thumb": "left" if mirror else "right",
            "centre": [round(float(v), 3) for v in centre], "angle_rad": round(angle, 5),
            "size_px": round(scale, 3), "skin_rgb": [round(float(v), 2) for v in tone], "feather_px": self.feather_px,
        }
        shadow = None
        if self.shading:
            shading_map, light, face_size = sh.face_shading(frame, landmarks)
            typical = float(np.median(shading_map))
            if pose == "pass":  # a moving hand is not lit by one spot of the face: its mean light only
                shading_map = np.full_like(shading_map, typical)
            # the tone already comes from the lit face: shade relative to the face's typical light
            color, params["illumination"] = sh.shade_color(
                color, frame, shading_map, landmarks, self.illumination_strength, reference=typical, with_cast=False
            )
            shadow, contact = sh.contact_shadow(alpha, light, face_size)
            params["shading"] = {"light_tilt": [round(light[0], 4), round(light[1], 4)], "contact_shadow": contact}
        else:
            params["shading"] = "off"
        if self.path is not None:
            params["path"] = {"spec": self.path.spec(), "direction": self.path.direction}
        return OccluderLayer(color, alpha, params, shadow=shadow)

    def follow(
        self, layer: OccluderLayer, frames: Sequence[np.ndarray], onset_index: int, head_motion: np.ndarray,
        landmarks: np.ndarray,
    ) -> OccluderLayer:
        """A passing hand: translated from beyond one side of the crop to beyond the other."""
        if self.path is None:
            return layer
        n = len(frames)
        enter, leave = self.path.frames(n)
        h, w = layer.alpha.shape
        reach = layer.alpha > 0
        if layer.shadow is not None:
            reach |= layer.shadow > 0
        rows, cols = np.nonzero(reach)
        if rows.size == 0:
            return layer
        y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        start, end = {
            "right": ((-float(x1), 0.0), (float(w - x0), 0.0)),
            "left": ((float(w - x0), 0.0), (-float(x1), 0.0)),
            "down": ((0.0, -float(y1)), (0.0, float(h - y0))),
            "up": ((0.0, float(h - y0)), (0.0, -float(y1))),
        }[self.path.direction]
        local = np.repeat(np.eye(2, 3)[None], n, axis=0)
        visible = np.zeros(n, bool)
        for t in range(enter, leave + 1):
            s = (t - enter) / (leave - enter)
            local[t, :, 2] = np.add(start, np.multiply(s, np.subtract(end, start)))
            visible[t] = enter < t < leave  # on ENTER it is just outside the crop, on LEAVE just gone
        layer.motion = LayerMotion(local=local, visible=visible)
        layer.params["path"] = {
            **layer.params.get("path", {}), "enter_frame": enter, "leave_frame": leave,
            "start_shift_px": [round(v, 3) for v in start], "end_shift_px": [round(v, 3) for v in end],
        }
        return layer
