"""Model registry: name -> nn.Module class, one batch-dict input contract, one ModelOutput.

`build_model("rrrn", num_classes=3, in_channels=3)` builds any registered model; the batch
contract (x, regions, occlusion, label) is described in docs/architecture.md ("Models").
"""

from __future__ import annotations

import inspect

import torch

from occmer.errors import ModelError
from occmer.models.base import MERModel, ModelOutput
from occmer.models.causalnet import CausalNet
from occmer.models.htnet import HTNet
from occmer.models.ran import RAN
from occmer.models.resnet import ResNet18
from occmer.models.rrrn import RRRN, RRRNBackbone, RRRNNoRI, RRRNNoRR
from occmer.models.shallow import DualInception, OffApexNet, STSTNet

MODELS: dict[str, type[MERModel]] = {
    cls.name: cls
    for cls in (RRRN, RRRNNoRI, RRRNNoRR, RRRNBackbone, RAN, STSTNet, OffApexNet, DualInception, ResNet18, HTNet,
                CausalNet)
}

__all__ = ["MODELS", "MERModel", "ModelOutput", "build_model", "model_hparams", "model_loss"]


def model_hparams(name: str) -> dict[str, object]:
    """The keyword hyper-parameters a model accepts, with their defaults."""
    cls = _model_class(name)
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def build_model(
    name: str, num_classes: int, in_channels: int, input_size: int | None = None, **hparams
) -> MERModel:
    """A registered model; `seed` (an int) makes the initial weights reproducible without touching global RNG."""
    cls = _model_class(name)
    seed = hparams.pop("seed", None)
    unknown = sorted(set(hparams) - set(model_hparams(name)))
    if unknown:
        raise ModelError(
            f"model {name!r} has no hyper-parameter(s) {unknown}; it accepts {sorted(model_hparams(name))} and seed"
        )
    if seed is None:
        return cls(num_classes=num_classes, in_channels=in_channels, input_size=input_size, **hparams)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return cls(num_classes=num_classes, in_channels=in_channels, input_size=input_size, **hparams)


def model_loss(model: MERModel, output: ModelOutput, batch: dict[str, torch.Tensor], **options) -> torch.Tensor:
    """The training loss of `model` (cross-entropy, plus the region-biased term for rrrn/ran); see MERModel.loss."""
    return model.loss(output, batch, **options)


def _model_class(name: str) -> type[MERModel]:
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name]
