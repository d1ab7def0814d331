"""The bridge from bench settings to the model registry: input size, factory and loss per model.

Hyper-parameters come from repeated `--hparam KEY=VALUE` options: `KEY` applies to every
model that accepts it, `MODEL.KEY` to one model only, and `loss.KEY` (label_smoothing,
region_bias, margin) goes to the model's loss.
"""

from __future__ import annotations

import inspect
import json
import math
import types
import typing
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
    uses_points: bool = False  # reads batch `points`, five facial points on the grid (HTNet)
    input_maps: int = 1  # images per sample stacked on the channels (CausalNet: 4)


def model_spec(name: str) -> ModelSpec:
    """Registry facts the harness needs before building: default input size, region and point use."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    cls = MODELS[name]
    return ModelSpec(name, int(cls.default_input_size), bool(getattr(cls, "uses_regions", False)),
                     bool(getattr(cls, "uses_points", False)), int(cls.input_maps))


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
        for owner in owners:
            if name in model_hparams(owner):
                check_hparam_value(owner, name, hparams[key], flag=f"--hparam {key}")
    for key, value in hparams.items():
        if key.startswith(LOSS_PREFIX):
            _check_number(f"--hparam {key}", value, float, 0.0, 1.0 if key.endswith("label_smoothing") else None)


UNIT_INTERVAL = ("dropout", "prior_mix")  # hyper-parameters that are fractions


def _type_name(annotation: Any) -> str:
    return " or ".join(getattr(a, "__name__", str(a)) for a in (typing.get_args(annotation) or (annotation,)))


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether a JSON-parsed `value` fits a constructor annotation (int, float, bool, str, X | None)."""
    options = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (
        annotation,)
    for option in options:
        if option is type(None) and value is None:
            return True
        if option is bool and isinstance(value, bool):
            return True
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if option is str and isinstance(value, str):
            return True
        if option is inspect.Parameter.empty or option is Any:
            return True
    return False


def check_hparam_value(model: str, name: str, value: Any, flag: str = "--hparam") -> None:
    """ConfigError unless `value` has the type the model's constructor declares for `name`
    (and, for numbers, a sane range: finite, fractions in [0, 1], sizes at least 1)."""
    cls = MODELS[model]
    parameter = inspect.signature(cls.__init__, eval_str=True).parameters[name]
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty and parameter.default is not None:
        annotation = type(parameter.default)
    if not _accepts(annotation, value):
        raise ConfigError(
            f"{flag}: {model}.{name} expects {_type_name(annotation)} (default {parameter.default!r}), got {value!r}"
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if name in UNIT_INTERVAL:
            _check_number(flag, value, float, 0.0, 1.0)
        elif isinstance(value, int) and isinstance(parameter.default, int) and parameter.default >= 1:
            _check_number(flag, value, int, 1, None)
        else:
            _check_number(flag, value, float, None, None)


def _check_number(flag: str, value: Any, kind: type, low: float | None, high: float | None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{flag} expects a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ConfigError(f"{flag} must be in {bounds}, got {value!r}")


def factory_and_loss(model: str, hparams: Mapping[str, Any]):
    """(factory(num_classes, in_channels, input_size) -> nn.Module, loss(model, output, batch) -> tensor)."""
    kwargs, loss_options = split_hparams(model, hparams)

    def factory(num_classes: int, in_channels: int, input_size: int):
        return build_model(model, num_classes, in_channels, input_size=input_size, **kwargs)

    def loss(module, output, batch):
        return model_loss(module, output, batch, **loss_options)

    return factory, loss
