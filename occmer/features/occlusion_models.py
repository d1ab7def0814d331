"""What an occluder does to precomputed motion inputs (u, v, optical strain): pure computation.

An occluder held on the face adds no motion of its own: under it, the flow is the occluder's
motion, which is the head's and none of the expression's. `apply_motion_model` replaces the
cells under the occluder (grid alpha a in [0, 1]) by a model of that motion and blends:
out = (1 - a) * orig + a * model.

Models:
- `affine`: u and v take the affine motion u = a0 + a1 x + a2 y (same for v) fitted by least
  squares (optionally trimmed: `robust`) to the visible cells (a < VISIBLE_BELOW); strain takes
  the optical strain of that affine field (occmer.features.strain.optical_strain: constant over
  the grid, 0 for a translation or a small rotation). Fewer than MIN_VISIBLE_CELLS visible cells
  (an occluder over the whole grid) fall back to `zero` for that sample, recorded.
- `zero`: zero motion and zero strain.

Normalisation (the feature set's `normalisation` attribute), real value x -> stored x':
- `none`: x' = x; zero is known.
- `minmax-per-image`: x' = alpha x + beta with one (alpha > 0, beta) per image for all channels.
  An affine field stays affine under this map, so the fit is done on x' directly. The strain of
  the affine field is homogeneous of degree 1 in (u, v), so its stored value is
  optical_strain(fitted u', v') + beta, alpha cancelling; beta (where zero maps) is estimated by
  the strain channel's minimum over the image (strain >= 0 and is ~0 somewhere on a face).
  `zero` fills every channel with beta.
- `minmax-per-channel`: x'_c = alpha_c x_c + beta_c per channel. u and v are fitted as above;
  the strain scale alpha_s / alpha_uv is unknown, so strain under the occluder is set to the
  zero-strain level beta_s (the strain channel's minimum): exact for rigid head motion, which is
  the motion model's premise. `zero` fills u and v with the median of the channel's visible
  cells (the motion of most of the face, the best estimate of a still cell's value when zero is
  unknown) and strain with beta_s.
After the fill, min-max inputs are re-normalised the way the source was: each image (all
channels together, or each channel) rescaled to span 0..255 again (float32, not rounded).
A sample whose grid alpha is all 0 is returned unchanged (bit-identical).

Four maps (CausalNet's input, channels u, v, strain, u_1, ..., strain_3 as `occmer import
--layout maps` names them; occmer.features.maps): the occluder is held on the face through the
whole clip, so both flow maps, onset->apex (X) and apex->offset (X_1), get the model under the
same grid alpha, each fitted on its own visible cells and re-normalised as an image of its own;
the direction maps X_2 and X_3 are then recomputed from the occluded X and X_1 exactly as the
release's were made from them (occmer.features.maps.direction_map), never blended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from occmer.errors import ConfigError
from occmer.features.maps import (
    DIRECTION_OF,
    FLOW_MAPS,
    MAP_SUFFIXES,
    direction_planes,
    map_indices,
    split_map_channels,
)
from occmer.features.strain import optical_strain

MOTION_MODELS = ("affine", "zero")
MINMAX = ("minmax-per-image", "minmax-per-channel")
MODEL_NORMALISATIONS = ("none", *MINMAX)
VISIBLE_BELOW = 0.5  # grid alpha under which a cell counts as visible for the fit
MIN_VISIBLE_CELLS = 6  # fewer visible cells than this: the affine fit falls back to `zero`
ROBUST_ITERATIONS = 3
ROBUST_MAD_FACTOR = 3.0  # cells whose residual exceeds this many (normal-consistent) MADs leave the fit
MOTION_CHANNELS = ("u", "v")
STRAIN_CHANNEL = "strain"
KNOWN_CHANNELS = (*MOTION_CHANNELS, STRAIN_CHANNEL)


@dataclass
class ModelOutcome:
    """One sample after the model: the new (C, S, S) data and what was done (recorded per sample)."""

    data: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)


def check_model(model: str, normalisation: str, channels: list[str]) -> None:
    """ConfigError unless the model, the normalisation and the channel names can be handled."""
    if model not in MOTION_MODELS:
        raise ConfigError(f"--motion-model {model!r}: choose one of {', '.join(MOTION_MODELS)}")
    if normalisation not in MODEL_NORMALISATIONS:
        raise ConfigError(
            f"the feature set's normalisation is {normalisation!r}; occluding needs to know it "
            f"({', '.join(MODEL_NORMALISATIONS)}): pass --normalisation"
        )
    maps = split_map_channels(channels)
    base = next(iter(maps.values())) if maps else channels
    unknown = [c for c in base if c not in KNOWN_CHANNELS]
    missing = [c for c in MOTION_CHANNELS if c not in base]
    if unknown or missing or len(set(channels)) != len(channels):
        raise ConfigError(
            f"channels {', '.join(channels)}: occluding models u, v and (optionally) strain only, or four maps of "
            "them (u, v, strain, u_1, ..., strain_3); name the channels so at import (--channels u,v,strain)"
        )


def cell_coordinates(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of every cell of an S x S grid, column and row indices, as float64 (S, S)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    return x, y


def fit_affine(values: np.ndarray, visible: np.ndarray, robust: bool = False) -> np.ndarray | None:
    """(3,) coefficients (c0, cx, cy) of values ~ c0 + cx x + cy y over the visible cells, or None
    when fewer than MIN_VISIBLE_CELLS are visible. `robust`: refit without the outliers
    (residual > ROBUST_MAD_FACTOR robust standard deviations), ROBUST_ITERATIONS times."""
    x, y = cell_coordinates(values.shape[0])
    keep = np.asarray(visible, bool).copy()
    if keep.sum() < MIN_VISIBLE_CELLS:
        return None
    design = np.stack([np.ones(values.size), x.ravel(), y.ravel()], axis=1)
    target = np.asarray(values, np.float64).ravel()
    coefficients = np.linalg.lstsq(design[keep.ravel()], target[keep.ravel()], rcond=None)[0]
    for _ in range(ROBUST_ITERATIONS if robust else 0):
        residual = target - design @ coefficients
        inside = residual[visible.ravel()]
        spread = 1.4826 * np.median(np.abs(inside - np.median(inside)))
        if spread <= 0:
            break
        chosen = visible.ravel() & (np.abs(residual) <= ROBUST_MAD_FACTOR * spread)
        if chosen.sum() < MIN_VISIBLE_CELLS:
            break
        coefficients = np.linalg.lstsq(design[chosen], target[chosen], rcond=None)[0]
    return coefficients


def affine_field(coefficients: np.ndarray, size: int) -> np.ndarray:
    """(S, S) values of c0 + cx x + cy y on the grid."""
    x, y = cell_coordinates(size)
    return coefficients[0] + coefficients[1] * x + coefficients[2] * y


def zero_strain_level(data: np.ndarray, channels: list[str], normalisation: str) -> float:
    """The stored value of zero strain: 0 for raw inputs, the strain channel's minimum for min-max
    inputs (per image: the level of zero motion too); 0 when no strain channel is stored."""
    if normalisation == "none" or STRAIN_CHANNEL not in channels:
        return 0.0
    return float(np.min(data[channels.index(STRAIN_CHANNEL)]))


def model_values(data: np.ndarray, channels: list[str], alpha: np.ndarray, model: str, normalisation: str,
                 robust: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """(C, S, S) float64 values of the model on every cell, and the record of how they were made."""
    size = data.shape[-1]
    visible = alpha < VISIBLE_BELOW
    beta = zero_strain_level(data, channels, normalisation)
    record: dict[str, Any] = {"model": model, "visible_cells": int(visible.sum()), "zero_level": beta}
    fits = {}
    if model == "affine":
        for name in MOTION_CHANNELS:
            fits[name] = fit_affine(data[channels.index(name)], visible, robust)
        if any(f is None for f in fits.values()):
            record["fallback"] = f"zero: fewer than {MIN_VISIBLE_CELLS} visible cells"
            fits = {}
    out = np.empty(data.shape, np.float64)
    for i, name in enumerate(channels):
        if name in MOTION_CHANNELS:
            out[i] = affine_field(fits[name], size) if fits else _zero_motion(data[i], visible, normalisation, beta)
    if STRAIN_CHANNEL in channels:
        out[channels.index(STRAIN_CHANNEL)] = _model_strain(fits, size, normalisation, beta)
    if fits:
        record["affine"] = {name: [float(c) for c in fits[name]] for name in MOTION_CHANNELS}
    return out, record


def _zero_motion(values: np.ndarray, visible: np.ndarray, normalisation: str, beta: float) -> np.ndarray:
    if normalisation == "none":
        return np.zeros(values.shape)
    if normalisation == "minmax-per-image":
        return np.full(values.shape, beta)
    level = float(np.median(values[visible])) if visible.any() else float(np.median(values))
    return np.full(values.shape, level)


def _model_strain(fits: dict[str, np.ndarray | None], size: int, normalisation: str, beta: float) -> np.ndarray:
    if not fits or normalisation == "minmax-per-channel":
        return np.full((size, size), beta)
    flow = np.stack([affine_field(fits["u"], size), affine_field(fits["v"], size)], axis=2)  # type: ignore[arg-type]
    return optical_strain(flow).astype(np.float64) + beta


def renormalise(data: np.ndarray, normalisation: str) -> np.ndarray:
    """Min-max inputs ((..., C, S, S)) rescaled to span 0..255 again, per image or per channel (`none`: unchanged)."""
    if normalisation == "none":
        return data
    axes = (-3, -2, -1) if normalisation == "minmax-per-image" else (-2, -1)
    low = data.min(axis=axes, keepdims=True)
    span = data.max(axis=axes, keepdims=True) - low
    return np.where(span > 0, (data - low) * (255.0 / np.where(span > 0, span, 1.0)), 0.0)


def normalisation_note(data: np.ndarray, normalisation: str) -> str | None:
    """A warning when (N, C, S, S) inputs recorded as min-max per image look min-max per channel
    (every channel of every image spans exactly 0..255, as in STSTNet's public release)."""
    if normalisation != "minmax-per-image" or data.shape[1] < 2:
        return None
    low, high = data.min(axis=(2, 3)), data.max(axis=(2, 3))
    if np.all(low == 0) and np.all(high == 255):
        return ("every channel of every image spans 0..255: the inputs look min-max scaled per channel, not per "
                "image as the file records; if so, rerun with --normalisation minmax-per-channel")
    return None


def apply_motion_model(data: np.ndarray, channels: list[str], alpha: np.ndarray, model: str, normalisation: str,
                       robust: bool = False) -> ModelOutcome:
    """One sample's (C, S, S) inputs with the cells under the occluder (alpha (S, S) in [0, 1])
    replaced by the motion model, blended by alpha, then re-normalised like the source."""
    check_model(model, normalisation, channels)
    alpha = np.clip(np.asarray(alpha, np.float64), 0.0, 1.0)
    if alpha.shape != data.shape[1:]:
        raise ConfigError(f"grid alpha {alpha.shape} does not match the inputs' grid {data.shape[1:]}")
    if not np.any(alpha > 0):
        return ModelOutcome(np.asarray(data, np.float32), {"model": model, "unchanged": True})
    if split_map_channels(channels) is not None:
        return _occlude_four_maps(data, channels, alpha, model, normalisation, robust)
    return _occlude_image(data, channels, alpha, model, normalisation, robust)


def _occlude_image(data: np.ndarray, channels: list[str], alpha: np.ndarray, model: str, normalisation: str,
                   robust: bool) -> ModelOutcome:
    """One image's channels (checked) filled by the model under alpha, blended, re-normalised."""
    values, record = model_values(np.asarray(data, np.float64), channels, alpha, model, normalisation, robust)
    blended = (1.0 - alpha) * np.asarray(data, np.float64) + alpha * values
    return ModelOutcome(renormalise(blended, normalisation).astype(np.float32), record)


def _occlude_four_maps(data: np.ndarray, channels: list[str], alpha: np.ndarray, model: str, normalisation: str,
                       robust: bool) -> ModelOutcome:
    """Both flow maps through the model under the same alpha, then their direction maps recomputed."""
    base = channels[: len(channels) // len(MAP_SUFFIXES)]
    out = np.empty(data.shape, np.float32)
    records = {}
    for suffix in FLOW_MAPS:
        rows = map_indices(channels, suffix)
        outcome = _occlude_image(data[rows], base, alpha, model, normalisation, robust)
        out[rows] = outcome.data
        records[f"X{suffix}"] = outcome.record
    for suffix, source in DIRECTION_OF.items():
        out[map_indices(channels, suffix)] = direction_planes(out[map_indices(channels, source)], base)
    return ModelOutcome(out, {"model": model, "flow_maps": records,
                              "direction_maps": "X_2, X_3 recomputed from the occluded X, X_1"})
