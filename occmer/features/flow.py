"""Dense optical flow between two frames: a registry of methods with recorded settings.

Every method takes two single-channel uint8 frames and returns the displacement (u, v)
in pixels that carries each onset pixel to its position in the apex frame. Settings are
resolved (defaults + overrides, types checked) before any work, so the exact values used
can be stored next to the result.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import cv2
import numpy as np

from occmer.errors import ConfigError, FeatureError
from occmer.frames import to_gray

GRAYSCALE = "ITU-R BT.601 luma (cv2.COLOR_RGB2GRAY: 0.299 R + 0.587 G + 0.114 B), rounded to uint8"


class FlowMethod(ABC):
    """One optical flow algorithm; `defaults` lists every setting it accepts."""

    name: ClassVar[str]
    description: ClassVar[str]
    defaults: ClassVar[dict[str, Any]]
    # key -> (low, high, low_open, high_open): values OpenCV handles. Outside them it asserts,
    # returns garbage or crashes the process (winsize=-3: SIGSEGV; DIS patch_size=0: SIGFPE).
    limits: ClassVar[dict[str, tuple[float, float, bool, bool]]] = {}

    @classmethod
    def settings(cls, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults merged with overrides, each cast to its default's type."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(cls.defaults))
        if unknown:
            raise ConfigError(
                f"flow method {cls.name!r} has no setting {', '.join(unknown)}; "
                f"its settings are: {', '.join(sorted(cls.defaults))}"
            )
        resolved = dict(cls.defaults)
        for key, value in overrides.items():
            resolved[key] = _cast(cls.name, key, value, cls.defaults[key])
            _check_range(cls, key, resolved[key])
        cls.check(resolved)
        return resolved

    @classmethod  # noqa: B027 - an optional hook, empty by default
    def check(cls, settings: Mapping[str, Any]) -> None:
        """Constraints between settings (ConfigError); ranges of single settings are in `limits`."""

    @classmethod
    @abstractmethod
    def compute(cls, onset: np.ndarray, apex: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
        """(H, W, 2) float32 flow from onset to apex; both (H, W) uint8, settings resolved."""


def _cast(method: str, key: str, value: Any, default: Any) -> Any:
    """`value` (from code or the command line) as the type of `default`, or a ConfigError."""
    kind = type(default)
    try:
        if kind is bool:
            return _as_bool(value)
        if kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"flow setting {method}.{key} must be a {kind.__name__} (default {default!r}), got {value!r}"
        ) from exc


def _check_range(cls: type[FlowMethod], key: str, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"flow setting {cls.name}.{key} must be a finite number, got {value!r}")
    if key not in cls.limits:
        return
    low, high, low_open, high_open = cls.limits[key]
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(
            f"flow setting {cls.name}.{key} must be in {interval}, got {value!r} (default {cls.defaults[key]!r})"
        )


def _closed(low: float, high: float) -> tuple[float, float, bool, bool]:
    return (low, high, False, False)


def _open_low(low: float, high: float) -> tuple[float, float, bool, bool]:
    return (low, high, True, False)


def _as_bool(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    key = str(value).strip().lower()
    if key not in words:
        raise ValueError(value)
    return words[key]


class TVL1Flow(FlowMethod):
    """Dual TV-L1 (Zach et al. 2007; Sanchez et al. 2013), the field's standard for MER."""

    name = "tvl1"
    description = "Dual TV-L1 (cv2.optflow, the most accurate, ~0.15 s per 224 px clip on one core)"
    # OpenCV's own defaults, written out so that every value is stored with the features.
    defaults = {
        "tau": 0.25, "lambda": 0.15, "theta": 0.3, "nscales": 5, "warps": 5, "epsilon": 0.01,
        "inner_iterations": 30, "outer_iterations": 10, "scale_step": 0.8, "gamma": 0.0,
        "median_filtering": 5,
    }
    limits = {
        "tau": _open_low(0, 1), "lambda": _open_low(0, 100), "theta": _open_low(0, 10), "nscales": _closed(1, 10),
        "warps": _closed(1, 50), "epsilon": _open_low(0, 1), "inner_iterations": _closed(1, 1000),
        "outer_iterations": _closed(1, 1000), "scale_step": _open_low(0, 1), "gamma": _closed(0, 10),
        "median_filtering": _closed(1, 15),
    }

    @classmethod
    def check(cls, settings: Mapping[str, Any]) -> None:
        if settings["median_filtering"] > 1 and settings["median_filtering"] % 2 == 0:
            raise ConfigError(
                f"flow setting tvl1.median_filtering must be 1 (off) or an odd kernel size, got {settings['median_filtering']}"
            )

    @classmethod
    def compute(cls, onset: np.ndarray, apex: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
        s = settings
        solver = cv2.optflow.DualTVL1OpticalFlow_create(
            s["tau"], s["lambda"], s["theta"], s["nscales"], s["warps"], s["epsilon"],
            s["inner_iterations"], s["outer_iterations"], s["scale_step"], s["gamma"],
            s["median_filtering"], False,
        )
        return solver.calc(onset, apex, None)


class FarnebackFlow(FlowMethod):
    """Farneback polynomial expansion: fast, smoother and less precise than TV-L1."""

    name = "farneback"
    description = "Farneback polynomial expansion (cv2, fast)"
    defaults = {
        "pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2,
        "gaussian_window": False,
    }
    limits = {
        "pyr_scale": (0, 1, True, True), "levels": _closed(0, 10), "winsize": _closed(1, 255),
        "iterations": _closed(1, 100), "poly_n": _closed(3, 11), "poly_sigma": _open_low(0, 10),
    }

    @classmethod
    def compute(cls, onset: np.ndarray, apex: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
        s = settings
        flags = cv2.OPTFLOW_FARNEBACK_GAUSSIAN if s["gaussian_window"] else 0
        return cv2.calcOpticalFlowFarneback(
            onset, apex, None, s["pyr_scale"], s["levels"], s["winsize"], s["iterations"],
            s["poly_n"], s["poly_sigma"], flags,
        )


class DISFlow(FlowMethod):
    """Dense Inverse Search (Kroeger et al. 2016): the fastest; defaults = OpenCV's MEDIUM preset."""

    name = "dis"
    description = "Dense Inverse Search (cv2, fastest; OpenCV MEDIUM preset values)"
    defaults = {
        "finest_scale": 1, "patch_size": 8, "patch_stride": 3, "gradient_descent_iterations": 25,
        "variational_refinement_iterations": 5, "variational_refinement_alpha": 20.0,
        "variational_refinement_delta": 5.0, "variational_refinement_gamma": 10.0,
        "use_mean_normalization": True, "use_spatial_propagation": True,
    }
    limits = {
        "finest_scale": _closed(0, 10), "patch_size": _closed(4, 64), "patch_stride": _closed(1, 64),
        "gradient_descent_iterations": _closed(0, 1000), "variational_refinement_iterations": _closed(0, 1000),
        "variational_refinement_alpha": _closed(0, 1000), "variational_refinement_delta": _closed(0, 1000),
        "variational_refinement_gamma": _closed(0, 1000),
    }

    @classmethod
    def check(cls, settings: Mapping[str, Any]) -> None:
        if settings["patch_stride"] > settings["patch_size"]:
            raise ConfigError(
                f"flow setting dis.patch_stride ({settings['patch_stride']}) must not exceed dis.patch_size "
                f"({settings['patch_size']})"
            )

    @classmethod
    def compute(cls, onset: np.ndarray, apex: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
        s = settings
        solver = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        solver.setFinestScale(s["finest_scale"])
        solver.setPatchSize(s["patch_size"])
        solver.setPatchStride(s["patch_stride"])
        solver.setGradientDescentIterations(s["gradient_descent_iterations"])
        solver.setVariationalRefinementIterations(s["variational_refinement_iterations"])
        solver.setVariationalRefinementAlpha(s["variational_refinement_alpha"])
        solver.setVariationalRefinementDelta(s["variational_refinement_delta"])
        solver.setVariationalRefinementGamma(s["variational_refinement_gamma"])
        solver.setUseMeanNormalization(s["use_mean_normalization"])
        solver.setUseSpatialPropagation(s["use_spatial_propagation"])
        return solver.calc(onset, apex, None)


FLOW_METHODS: dict[str, type[FlowMethod]] = {m.name: m for m in (TVL1Flow, FarnebackFlow, DISFlow)}


def flow_method(name: str) -> type[FlowMethod]:
    """The registered method called `name`, or a ConfigError listing the choices."""
    try:
        return FLOW_METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown flow method {name!r}; choose one of: {', '.join(FLOW_METHODS)}") from None


def compute_flow(onset: np.ndarray, apex: np.ndarray, method: str = "tvl1", **params: Any) -> np.ndarray:
    """(H, W, 2) float32 flow (u, v) in pixels from the onset to the apex frame.

    Frames: uint8 (H, W, 3) RGB, (H, W, 1) or (H, W) gray, same size; RGB is converted
    with `to_gray`. `params` override the method's defaults (see FLOW_METHODS[method].defaults).
    """
    cls = flow_method(method)
    settings = cls.settings(params)
    a, b = to_gray(onset), to_gray(apex)
    if a.shape != b.shape:
        raise FeatureError(f"onset and apex frames differ in size: {a.shape} vs {b.shape}")
    try:
        flow = np.asarray(cls.compute(a, b, settings), dtype=np.float32)
    except cv2.error as exc:
        reason = " ".join(str(exc).split())[-200:]
        raise FeatureError(
            f"flow method {method!r} failed on {a.shape[1]}x{a.shape[0]} frames with settings {settings} "
            f"(OpenCV: {reason}); change the --flow-param values"
        ) from exc
    if not np.all(np.isfinite(flow)):
        raise FeatureError(f"flow method {method!r} returned non-finite values; try another --flow method")
    return flow
