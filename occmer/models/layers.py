"""Building blocks shared by the models: residual blocks, a small ResNet and RoI sampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from occmer.errors import ModelError


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def resnet_stage(in_ch: int, out_ch: int, blocks: int, stride: int) -> nn.Sequential:
    """`blocks` BasicBlocks, the first one changing width and stride."""
    layers = [BasicBlock(in_ch, out_ch, stride)] + [BasicBlock(out_ch, out_ch) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class SmallResNet(nn.Module):
    """ResNet-style backbone trained from scratch: 3x3 stem (stride 2), then three stages (w, 2w, 4w).

    Output stride 8: a 112x112 input gives a 14x14 map with 4w channels.
    """

    def __init__(self, in_channels: int, width: int = 32, blocks: tuple[int, int, int] = (2, 2, 2)) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        self.stages = nn.Sequential(
            resnet_stage(width, width, blocks[0], 1),
            resnet_stage(width, 2 * width, blocks[1], 2),
            resnet_stage(2 * width, 4 * width, blocks[2], 2),
        )
        self.out_channels = 4 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


def check_boxes(boxes: torch.Tensor, batch_size: int, model: str) -> torch.Tensor:
    """Boxes (B, R, 4) as float32, or a ModelError that says what was wrong."""
    if boxes.ndim != 3 or boxes.shape[0] != batch_size or boxes.shape[2] != 4:
        raise ModelError(
            f"{model}: 'regions' must be (B={batch_size}, R, 4) normalised boxes, got {tuple(boxes.shape)}; "
            "make them with occmer.models.regions.region_boxes or grid_boxes"
        )
    return boxes.float()


def roi_sample(features: torch.Tensor, boxes: torch.Tensor, out_size: int, sampling: int = 1) -> torch.Tensor:
    """Bilinear RoI pooling with grid_sample: (B, C, H, W) x (B, R, 4) -> (B, R, C, out, out).

    Each output cell averages `sampling`^2 bilinear samples (RoIAlign-style); boxes are
    `(x0, y0, x1, y1)` in [0, 1] of the map, sampled at cell centres.
    """
    b, c = features.shape[:2]
    r = boxes.shape[1]
    n = out_size * sampling
    steps = (torch.arange(n, device=boxes.device, dtype=torch.float32) + 0.5) / n  # (n,)
    x0, y0, x1, y1 = (boxes[..., i].float().unsqueeze(-1) for i in range(4))  # (B, R, 1)
    xs = x0 + (x1 - x0) * steps  # (B, R, n)
    ys = y0 + (y1 - y0) * steps
    grid = torch.stack(torch.broadcast_tensors(xs.unsqueeze(2), ys.unsqueeze(3)), dim=-1)  # (B, R, n, n, 2)
    grid = (grid * 2 - 1).reshape(b, r * n, n, 2).to(features.dtype)
    sampled = F.grid_sample(features, grid, mode="bilinear", padding_mode="border", align_corners=False)
    sampled = sampled.reshape(b, c, r, n, n).permute(0, 2, 1, 3, 4)  # (B, R, C, n, n)
    if sampling > 1:
        sampled = F.avg_pool2d(sampled.reshape(b * r, c, n, n), sampling).reshape(b, r, c, out_size, out_size)
    return sampled
