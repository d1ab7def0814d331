"""ResNet-18 (He et al. 2016) trained from scratch on the flow channels: the generic deep baseline."""

from __future__ import annotations

import torch
from torch import nn

from occmer.models.base import MERModel, ModelOutput
from occmer.models.layers import resnet_stage


class ResNet18(MERModel):
    """Standard ResNet-18 layout (7x7/2 stem, max-pool, 4 stages of 2 basic blocks), any input channels."""

    name = "resnet18"
    default_input_size = 112
    min_input_size = 32

    def __init__(
        self, num_classes: int, in_channels: int = 3, input_size: int | None = None, *, width: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(num_classes, in_channels, input_size)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.stages = nn.Sequential(
            *(resnet_stage(widths[max(i - 1, 0)], w, 2, 1 if i == 0 else 2) for i, w in enumerate(widths))
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(widths[-1], num_classes))

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        fmap = self.stages(self.stem(self.features(batch)))
        return ModelOutput(self.head(fmap.mean(dim=(2, 3))))
