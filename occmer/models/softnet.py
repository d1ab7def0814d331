"""SOFTNet: the shallow optical-flow three-stream CNN that regresses a spotting score.

Liong, See, Wong and Phan, "Shallow Optical Flow Three-Stream CNN for Macro- and
Micro-Expression Spotting from Long Videos", ICIP 2021. Built as the public code builds it
(github.com/genbing99/SoftNet-SpotME, training.py, `SOFTNet()`), which differs from the
paper's figure in the kernel size: 5 x 5 ('same' padding), not 3 x 3.

One stream per input map (u, v, optical strain), each a 42 x 42 single-channel image:
conv 5 x 5 with 3, 5 and 8 filters -> ReLU -> max-pool 3 / stride 3 (42 -> 14); the 16 maps
concatenated -> max-pool 2 / 2 (14 -> 7) -> flatten (784) -> dense 400, ReLU -> dense 1,
linear: a score per frame pair, trained against 0/1 pseudo-labels with the mean squared error
(occmer.spotting.softnet). Weights start as Keras starts them (Glorot-uniform kernels, zero
biases), not at torch's defaults. It is a regressor, not a recognition model: it is not in
the MODELS registry.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIDE = 42  # the reference's 42 x 42 input: eyes-and-brows (top 21 rows) over the mouth
STREAM_FILTERS = (3, 5, 8)  # u, v, strain
KERNEL = 5
HIDDEN = 400


class SOFTNet(nn.Module):
    """(B, 3, 42, 42) float maps (u, v, strain, each min-max normalised) -> (B,) scores."""

    def __init__(self) -> None:
        super().__init__()
        self.streams = nn.ModuleList(nn.Conv2d(1, width, KERNEL, padding=KERNEL // 2) for width in STREAM_FILTERS)
        self.pool = nn.MaxPool2d(3, stride=3)
        self.merge_pool = nn.MaxPool2d(2, stride=2)
        side = INPUT_SIDE // 3 // 2
        self.hidden = nn.Linear(sum(STREAM_FILTERS) * side * side, HIDDEN)
        self.out = nn.Linear(HIDDEN, 1)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        streams = [self.pool(torch.relu(conv(x[:, i : i + 1]))) for i, conv in enumerate(self.streams)]
        merged = self.merge_pool(torch.cat(streams, dim=1)).flatten(1)
        return self.out(torch.relu(self.hidden(merged))).squeeze(1)
