"""Shallow optical-flow baselines of MEGC 2019: STSTNet, OFF-ApexNet and Dual-Inception.

They read 28x28 onset-to-apex flow; their fully connected layers depend on the grid size,
so they are built for one input_size. Paper-by-paper choices are listed in docs/models.md.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from occmer.models.base import MERModel, ModelOutput


def _pooled(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class STSTNet(MERModel):
    """Liong et al. 2019 (FG, MEGC): three shallow streams of 3, 5 and 8 3x3 filters on (u, v, strain).

    Each stream: conv 3x3 -> BN -> ReLU -> max-pool 3x3/3; the 16 maps are concatenated,
    average-pooled 2x2, flattened and classified by one fully connected layer.
    """

    name = "ststnet"
    default_input_size = 28
    min_input_size = 8
    fixed_input_size = True
    stream_widths = (3, 5, 8)

    def __init__(
        self, num_classes: int, in_channels: int = 3, input_size: int | None = None, *, dropout: float = 0.5
    ) -> None:
        super().__init__(num_classes, in_channels, input_size)
        self.streams = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_channels, w, 3, padding=1),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=3, padding=1),
            )
            for w in self.stream_widths
        )
        side = _pooled(_pooled(self.input_size, 3, 3, 1), 2, 2)
        self.pool = nn.AvgPool2d(2, stride=2)
        flat = sum(self.stream_widths) * side**2
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat, num_classes))

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        x = self.features(batch)
        return ModelOutput(self.head(self.pool(torch.cat([s(x) for s in self.streams], dim=1))))


class _TwoStreamFlowNet(MERModel):
    """Two streams, one on u (channel 0) and one on v (channel 1); other channels are not read."""

    min_in_channels = 2
    fixed_input_size = True
    default_input_size = 28
    min_input_size = 8

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        input_size: int | None,
        make_stream: Callable[[int], tuple[nn.Module, int]],
        hidden: tuple[int, ...],
        dropout: float,
    ) -> None:
        """`make_stream(input_size)` builds one single-channel stream and says how many values it flattens to."""
        super().__init__(num_classes, in_channels, input_size)
        self.stream_u, flat = make_stream(self.input_size)
        self.stream_v, _ = make_stream(self.input_size)
        layers: list[nn.Module] = []
        width = 2 * flat
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = h
        self.head = nn.Sequential(*layers, nn.Linear(width, num_classes))

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        x = self.features(batch)
        u = self.stream_u(x[:, 0:1]).flatten(1)
        v = self.stream_v(x[:, 1:2]).flatten(1)
        return ModelOutput(self.head(torch.cat([u, v], dim=1)))


class OffApexNet(_TwoStreamFlowNet):
    """Gan et al. 2019 (Signal Processing: Image Communication): OFF-ApexNet on onset-apex u and v.

    Per stream: conv 5x5 (6) -> ReLU -> max-pool 2x2 -> conv 5x5 (16) -> ReLU -> max-pool 2x2;
    streams concatenated -> FC 1024 -> FC 1024 -> classes (dropout 0.5).
    """

    name = "offapexnet"

    def __init__(
        self, num_classes: int, in_channels: int = 3, input_size: int | None = None, *, hidden: int = 1024,
        dropout: float = 0.5,
    ) -> None:
        super().__init__(num_classes, in_channels, input_size, _offapex_stream, (hidden, hidden), dropout)


def _offapex_stream(size: int) -> tuple[nn.Module, int]:
    stream = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
    )
    return stream, 16 * (size // 4) ** 2


class Inception(nn.Module):
    """Four branches of `width` maps each: 1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3 max-pool -> 1x1."""

    def __init__(self, in_ch: int, width: int) -> None:
        super().__init__()
        relu = nn.ReLU
        self.branches = nn.ModuleList([
            nn.Sequential(nn.Conv2d(in_ch, width, 1), relu()),
            nn.Sequential(nn.Conv2d(in_ch, width, 1), relu(), nn.Conv2d(width, width, 3, padding=1), relu()),
            nn.Sequential(nn.Conv2d(in_ch, width, 1), relu(), nn.Conv2d(width, width, 5, padding=2), relu()),
            nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(in_ch, width, 1), relu()),
        ])
        self.out_channels = 4 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


class DualInception(_TwoStreamFlowNet):
    """Zhou et al. 2019 (FG, MEGC): Dual-Inception, one Inception stream per flow component.

    Per stream: Inception (4 x 6 maps) -> max-pool 2x2 -> Inception (4 x 16 maps) -> max-pool 2x2;
    streams concatenated -> FC 1024 -> classes (dropout 0.5).
    """

    name = "dual-inception"

    def __init__(
        self, num_classes: int, in_channels: int = 3, input_size: int | None = None, *, hidden: int = 1024,
        dropout: float = 0.5,
    ) -> None:
        super().__init__(num_classes, in_channels, input_size, _inception_stream, (hidden,), dropout)


def _inception_stream(size: int) -> tuple[nn.Module, int]:
    first = Inception(1, 6)
    second = Inception(first.out_channels, 16)
    stream = nn.Sequential(first, nn.MaxPool2d(2), second, nn.MaxPool2d(2))
    return stream, second.out_channels * (size // 4) ** 2
