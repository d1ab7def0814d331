"""What every model shares: the output record, input checks and the loss entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from occmer.errors import ModelError
from occmer.models import losses


@dataclass
class ModelOutput:
    """logits (B, K) plus named analysis tensors (e.g. `region_weights` (B, R))."""

    logits: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


class MERModel(nn.Module):
    """Base of all registered models: `forward(batch) -> ModelOutput`, `loss(output, batch)`.

    Subclasses set the class attributes and implement `forward`. A model whose fully
    connected layers depend on the input grid sets `fixed_input_size = True`.
    """

    name: ClassVar[str] = ""
    default_input_size: ClassVar[int] = 28
    min_input_size: ClassVar[int] = 8
    fixed_input_size: ClassVar[bool] = False
    min_in_channels: ClassVar[int] = 1
    input_maps: ClassVar[int] = 1  # images per sample stacked on the channels (CausalNet: 4 flow maps)
    uses_regions: ClassVar[bool] = False
    uses_occlusion: ClassVar[bool] = False
    region_bias: float = 0.0  # weight of the region-biased loss term (models with region weights)
    margin: float = 0.02

    def __init__(self, num_classes: int, in_channels: int, input_size: int | None = None) -> None:
        super().__init__()
        size = self.default_input_size if input_size is None else int(input_size)
        if num_classes < 2:
            raise ModelError(f"{self.name}: num_classes must be >= 2 (got {num_classes})")
        if in_channels < self.min_in_channels:
            raise ModelError(
                f"{self.name}: needs at least {self.min_in_channels} input channels (u, v, ...), got {in_channels}; "
                "pick a feature set with more channels"
            )
        if size < self.min_input_size:
            raise ModelError(f"{self.name}: input_size must be >= {self.min_input_size} (got {size})")
        self.num_classes = int(num_classes)
        self.in_channels = int(in_channels)
        self.input_size = size

    @classmethod
    def accepts_input_size(cls, size: int) -> bool:
        """Whether the model builds at `size` with its default hyper-parameters (checked before data is built)."""
        return size >= cls.min_input_size

    def features(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The checked `x` (B, C, S, S) of a batch: a wrong shape fails with the fix in the message."""
        if "x" not in batch:
            raise ModelError(f"{self.name}: the batch has no 'x' entry (keys: {sorted(batch)})")
        x = batch["x"]
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ModelError(
                f"{self.name}: expected x of shape (B, {self.in_channels}, S, S), got {tuple(x.shape)}; "
                "build the model with the in_channels of the feature set"
            )
        if self.fixed_input_size and tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise ModelError(
                f"{self.name}: built for {self.input_size}x{self.input_size} inputs, got {tuple(x.shape[-2:])}; "
                f"use features of size {self.input_size} or build with input_size={x.shape[-1]}"
            )
        return x

    def loss_terms(
        self,
        output: ModelOutput,
        batch: dict[str, torch.Tensor],
        *,
        class_weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        region_bias: float | None = None,
        margin: float | None = None,
    ) -> dict[str, torch.Tensor]:
        """`ce`, `region_bias` (when the model has region weights) and `total`, for logging."""
        if "label" not in batch:
            raise ModelError(f"{self.name}: the batch has no 'label' entry; a loss needs labels")
        terms = {"ce": losses.classification_loss(output.logits, batch["label"], class_weights, label_smoothing)}
        weight = self.region_bias if region_bias is None else float(region_bias)
        if weight > 0 and "region_weights" in output.extras:
            rb = losses.region_biased_loss(output.extras["region_weights"], self.margin if margin is None else margin)
            terms["region_bias"] = rb
            terms["total"] = terms["ce"] + weight * rb
        else:
            terms["total"] = terms["ce"]
        return terms

    def loss(self, output: ModelOutput, batch: dict[str, torch.Tensor], **options) -> torch.Tensor:
        """The scalar training loss; options as in `loss_terms`."""
        return self.loss_terms(output, batch, **options)["total"]
