"""Shallow optical-flow baselines of MEGC 2019: STSTNet, OFF-ApexNet and Dual-Inception.

They read 28x28 onset-to-apex flow; their fully connected layers depend on the grid size,
so they are built for one input_size. Paper-by-paper choices are listed in docs/models.md.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from occmer.errors import ModelError
from occmer.models.base import MERModel, ModelOutput


def _pooled(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


STSTNET_VARIANTS = ("reference", "paper")


class STSTNet(MERModel):
    """Liong et al. 2019 (FG, MEGC): three shallow streams of 3, 5 and 8 3x3 filters on (u, v, strain).

    `variant="reference"` (default) is the public code that produced the published numbers
    (github.com/christy1206/STSTNet, main.py), layer for layer: per stream conv 3x3 padding 2
    -> ReLU -> BN -> max-pool 3/3 padding 1 -> dropout 0.5; the 16 maps concatenated,
    average-pooled 2x2, flattened, one linear layer. Parameter names (conv1-3, bn1-3, fc) are the
    reference's, so its per-subject checkpoints load as they are. The reference reads images
    with cv2 (BGR) as raw 0..255 values; the `paper` recipe feeds that (docs/models.md).
    `variant="paper"` follows the paper's text as occmer read it before: padding 1, BN before
    ReLU, dropout 0.5 before the classifier only.
    """

    name = "ststnet"
    default_input_size = 28
    min_input_size = 8
    fixed_input_size = True
    stream_widths = (3, 5, 8)

    def __init__(
        self, num_classes: int, in_channels: int = 3, input_size: int | None = None, *, dropout: float = 0.5,
        variant: str = "reference",
    ) -> None:
        super().__init__(num_classes, in_channels, input_size)
        if variant not in STSTNET_VARIANTS:
            raise ModelError(f"ststnet: variant {variant!r} is not one of {', '.join(STSTNET_VARIANTS)}")
        self.variant = variant
        padding = 2 if variant == "reference" else 1
        w1, w2, w3 = self.stream_widths
        self.conv1 = nn.Conv2d(in_channels, w1, 3, padding=padding)
        self.conv2 = nn.Conv2d(in_channels, w2, 3, padding=padding)
        self.conv3 = nn.Conv2d(in_channels, w3, 3, padding=padding)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm2d(w1), nn.BatchNorm2d(w2), nn.BatchNorm2d(w3)
        self.maxpool = nn.MaxPool2d(3, stride=3, padding=1)
        self.avgpool = nn.AvgPool2d(2, stride=2)
        self.dropout = nn.Dropout(dropout)
        side = _pooled(_pooled(self.input_size + 2 * padding - 2, 3, 3, 1), 2, 2)
        self.fc = nn.Linear(sum(self.stream_widths) * side**2, num_classes)

    def _stream(self, x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
        if self.variant == "reference":
            return self.dropout(self.maxpool(bn(torch.relu(conv(x)))))
        return self.maxpool(torch.relu(bn(conv(x))))

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        x = self.features(batch)
        streams = [self._stream(x, conv, bn) for conv, bn in
                   ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3))]
        pooled = self.avgpool(torch.cat(streams, dim=1)).flatten(1)
        if self.variant == "paper":
            pooled = self.dropout(pooled)
        return ModelOutput(self.fc(pooled))


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
    streams concatenated -> FC 1024 (ReLU) -> classes. This is the layout of the public Keras
    implementation (xly135846/MEGC2019 dual_inception.py), which has no dropout: `dropout`
    defaults to 0 (0.5 was occmer's earlier reading).
    """

    name = "dual-inception"

    def __init__(
        self, num_classes: int, in_channels: int = 3, input_size: int | None = None, *, hidden: int = 1024,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(num_classes, in_channels, input_size, _inception_stream, (hidden,), dropout)


def _inception_stream(size: int) -> tuple[nn.Module, int]:
    first = Inception(1, 6)
    second = Inception(first.out_channels, 16)
    stream = nn.Sequential(first, nn.MaxPool2d(2), second, nn.MaxPool2d(2))
    return stream, second.out_channels * (size // 4) ** 2
