"""Training recipes: how each model is optimised and fed, `default` (occmer's shared one) or `paper`.

A recipe fixes the optimiser, learning rate, weight decay, epochs, batch size, the input
channels (by name, in the order the model reads them) and the input normalisation. `paper`
is what the published model's code (or, without code, its paper) states; the source of every
value is in docs/models.md. Options given on the command line (--epochs, --lr, ...) override
the recipe's value, and config.json records the resolved recipe per model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from occmer.bench.training import TrainConfig
from occmer.errors import ConfigError

RECIPE_NAMES = ("default", "paper")
INPUT_NORMALISATIONS = {
    "as-stored": "the feature values as stored in the file",
    "minmax-255": "each channel of each sample mapped linearly onto 0..255 (min -> 0, max -> 255), the range of "
                  "the images the reference code reads; the identity on inputs already scaled that way",
}
TRAIN_FIELDS = ("optimizer", "lr", "weight_decay", "epochs", "batch_size")


@dataclass(frozen=True)
class Recipe:
    """One model's training recipe; `channels` None = the feature set's own order."""

    model: str
    name: str
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 30
    batch_size: int = 32
    channels: tuple[str, ...] | None = None
    input_normalisation: str = "as-stored"
    hparams: Mapping[str, Any] = field(default_factory=dict)
    val_subjects: int | None = None
    source: str = "occmer's shared default (docs/bench.md)"

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["channels"] = list(self.channels) if self.channels is not None else None
        out["hparams"] = dict(self.hparams)
        return out


_STSTNET_CODE = ("christy1206/STSTNet main.py (the code of the published MEGC 2019 results): Adam, lr 5e-5, "
                 "800 epochs, batch 256, cv2.imread BGR images of 0..255, no weight decay, the last epoch")
_DUAL_INCEPTION_CODE = ("xly135846/MEGC2019 dual_inception.py (Keras): Adam lr 1e-4, batch 3, 40 epochs, "
                        "the weights of the best validation loss on 20% of the training subjects")

_HTNET_CODE = ("wangzhifengharrison/HTNet main_HTNet.py: Adam, lr 5e-5, 800 epochs, batch 256, cv2.imread BGR "
               "images of 0..255, no weight decay, no shuffling; the published numbers take each subject's best "
               "test epoch (occmer reports the last epoch, and the test-selected one where recorded)")
_CAUSALNET_CODE = ("tony19980810/CausalNet main_train.py: Adam, lr 5e-5, 200 epochs (stopping early once the test "
                   "fold is all correct), batch 1024, seed 2025, gamma 0.5, cv2.imread BGR maps of 0..255, no "
                   "weight decay; the published numbers take each subject's best test epoch")
# The four CausalNet maps in the order its code reads them, each map's planes as cv2 reads them (BGR).
_CAUSALNET_CHANNELS = tuple(f"{c}{m}" for m in ("", "_1", "_2", "_3") for c in ("strain", "v", "u"))

PAPER_RECIPES: dict[str, Recipe] = {
    "ststnet": Recipe(
        "ststnet", "paper", optimizer="adam", lr=5e-5, weight_decay=0.0, epochs=800, batch_size=256,
        channels=("strain", "v", "u"), input_normalisation="minmax-255", hparams={"variant": "reference"},
        source=_STSTNET_CODE,
    ),
    "dual-inception": Recipe(
        "dual-inception", "paper", optimizer="adam", lr=1e-4, weight_decay=0.0, epochs=40, batch_size=3,
        channels=("u", "v"), val_subjects=13, source=_DUAL_INCEPTION_CODE,
    ),
    "htnet": Recipe(
        "htnet", "paper", optimizer="adam", lr=5e-5, weight_decay=0.0, epochs=800, batch_size=256,
        channels=("strain", "v", "u"), input_normalisation="minmax-255", source=_HTNET_CODE,
    ),
    "causalnet": Recipe(
        "causalnet", "paper", optimizer="adam", lr=5e-5, weight_decay=0.0, epochs=200, batch_size=1024,
        channels=_CAUSALNET_CHANNELS, source=_CAUSALNET_CODE,
    ),
}

# Models too large for the shared default on a CPU: the authors' layers at a quarter of the width
# (dim 32 instead of 256; depths, heads and input as the code), sized so that one seed of MEGC 2019
# LOSO fits a CPU (docs/models.md, "Costs"). Not tuned: a first, affordable setting.
_CPU_SIZED = "the authors' architecture at dim 32 (a CPU-sized width; docs/models.md), Adam lr 3e-4"
DEFAULT_RECIPES: dict[str, Recipe] = {
    "htnet": Recipe("htnet", "default", optimizer="adam", lr=3e-4, weight_decay=0.0, epochs=30, batch_size=32,
                    channels=("strain", "v", "u"), input_normalisation="minmax-255", hparams={"dim": 32},
                    source=_CPU_SIZED),
    "causalnet": Recipe("causalnet", "default", optimizer="adam", lr=3e-4, weight_decay=0.0, epochs=20,
                        batch_size=32, channels=_CAUSALNET_CHANNELS,
                        hparams={"dim": 32}, source=_CPU_SIZED),
}


def resolve_recipe(model: str, name: str) -> Recipe:
    """The recipe `name` of `model`; a ConfigError for `paper` where no source states one."""
    if name not in RECIPE_NAMES:
        raise ConfigError(f"--recipe {name!r}: choose one of {', '.join(RECIPE_NAMES)}")
    if name == "default":
        return DEFAULT_RECIPES.get(model, Recipe(model, "default"))
    if model not in PAPER_RECIPES:
        raise ConfigError(f"--recipe paper: no published recipe is known for {model} (models with one: "
                          f"{', '.join(sorted(PAPER_RECIPES))}); use --recipe default with --epochs/--lr/... "
                          "(docs/models.md says why)")
    return PAPER_RECIPES[model]


def train_config(recipe: Recipe, base: TrainConfig, overrides: Sequence[str]) -> TrainConfig:
    """The recipe's training settings, except the fields the user set explicitly (taken from `base`)."""
    values = {f: getattr(base if f in overrides else recipe, f) for f in TRAIN_FIELDS}
    return replace(base, **values)


def select_channels(x: np.ndarray, channels: Sequence[str], wanted: Sequence[str] | None, where: str) -> np.ndarray:
    """x (N, C, S, S) with its channels in the order `wanted` (by name); unchanged when None."""
    if wanted is None:
        return x
    missing = [c for c in wanted if c not in channels]
    if missing:
        raise ConfigError(f"{where}: the recipe reads channels {', '.join(wanted)} but the feature set has "
                          f"{', '.join(channels)} (missing {', '.join(missing)}); name the channels at import "
                          "(--channels) or use --recipe default")
    return np.ascontiguousarray(x[:, [list(channels).index(c) for c in wanted]])


def normalise_inputs(x: np.ndarray, how: str) -> np.ndarray:
    """Apply a recipe's input normalisation (INPUT_NORMALISATIONS) per sample and channel."""
    if how == "as-stored":
        return x
    if how != "minmax-255":
        raise ConfigError(f"unknown input normalisation {how!r}; known: {', '.join(INPUT_NORMALISATIONS)}")
    flat = x.reshape(x.shape[0], x.shape[1], -1).astype(np.float64)
    low, high = flat.min(axis=2, keepdims=True), flat.max(axis=2, keepdims=True)
    span = np.where(high > low, high - low, 1.0)
    return ((flat - low) / span * 255.0).reshape(x.shape).astype(np.float32)
