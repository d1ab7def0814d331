"""The bridge from bench settings to the model registry: input size, factory and loss per model.

Hyper-parameters come from repeated `--hparam KEY=VALUE` options: `KEY` applies to every
model that accepts it, `MODEL.KEY` to one model only, and `loss.KEY` (label_smoothing,
region_bias, margin) goes to the model's loss.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from occmer.errors import ConfigError
from occmer.models import MODELS, build_model, model_hparams, model_loss

LOSS_PREFIX = "loss."
LOSS_OPTIONS = ("label_smoothing", "region_bias", "margin")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_size: int
    uses_regions: bool


def model_spec(name: str) -> ModelSpec:
    """Registry facts the harness needs before building: default input size and region use."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    cls = MODELS[name]
    return ModelSpec(name, int(cls.default_input_size), bool(getattr(cls, "uses_regions", False)))


def parse_hparams(values: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings -> dict; values are read as JSON when they parse (numbers, true, lists), else text."""
    out: dict[str, Any] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise ConfigError(f"--hparam {value!r}: write KEY=VALUE, MODEL.KEY=VALUE or loss.KEY=VALUE")
        try:
            out[key.strip()] = json.loads(text)
        except ValueError:
            out[key.strip()] = text
    return out


def split_hparams(model: str, hparams: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model keyword arguments, loss options) that apply to `model`."""
    accepted = model_hparams(model)
    kwargs, loss = {}, {}
    for key, value in hparams.items():
        if key.startswith(LOSS_PREFIX):
            loss[key[len(LOSS_PREFIX):]] = value
        elif key.startswith(f"{model}."):
            kwargs[key[len(model) + 1:]] = value
        elif "." not in key and key in accepted:
            kwargs[key] = value
    return kwargs, loss


def check_hparams(models: Sequence[str], hparams: Mapping[str, Any]) -> None:
    """Reject keys no model of the run accepts, before any training starts."""
    for key in hparams:
        if key.startswith(LOSS_PREFIX):
            if key[len(LOSS_PREFIX):] not in LOSS_OPTIONS:
                raise ConfigError(f"--hparam {key}: loss options are {', '.join(LOSS_OPTIONS)}")
            continue
        target, _, name = key.rpartition(".")
        owners = [target] if target else list(models)
        if target and target not in models:
            raise ConfigError(f"--hparam {key}: model {target!r} is not in this run ({', '.join(models)})")
        if not any(name in model_hparams(m) for m in owners):
            choices = {m: sorted(model_hparams(m)) for m in owners}
            raise ConfigError(f"--hparam {key}: no model accepts {name!r}; accepted: {choices}")


def factory_and_loss(model: str, hparams: Mapping[str, Any]):
    """(factory(num_classes, in_channels, input_size) -> nn.Module, loss(model, output, batch) -> tensor)."""
    kwargs, loss_options = split_hparams(model, hparams)

    def factory(num_classes: int, in_channels: int, input_size: int):
        return build_model(model, num_classes, in_channels, input_size=input_size, **kwargs)

    def loss(module, output, batch):
        return model_loss(module, output, batch, **loss_options)

    return factory, loss
