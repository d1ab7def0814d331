"""HTNet (Wang et al., Neurocomputing 2024): a hierarchical transformer over landmark flow blocks.

Layer for layer as the authors' code (wangzhifengharrison/HTNet, Model.py and the settings of
main_HTNet.py): the 28x28 input is four 14x14 flow blocks around the eyes and mouth corners
tiled 2x2 (occmer.models.landmark_blocks), folded into 7x7 patches, then a three-level NesT
(dims 256/512/1024, heads 3/6/12, depths 2/2/10) and a LayerNorm -> mean -> linear head.
The paper's whole-face stream and five-block fusion (`Fusionmodel`) are not used by the
code that trains the published model; occmer follows the code (docs/models.md).
"""

from __future__ import annotations

import torch
from torch import nn

from occmer.errors import ModelError
from occmer.models.base import MERModel, ModelOutput
from occmer.models.landmark_blocks import fallback_points, points_from_region_boxes, tile_blocks
from occmer.models.nest import ChannelLayerNorm, ChannelMean, PatchFold, nest_geometry, nest_layers, run_nest


class HTNet(MERModel):
    """HTNet on (B, C, S, S) flow; the blocks are cut from `points` (B, 5, 2) on the grid when the batch
    has them, else from the `regions` boxes, else at the authors' no-face points (FALLBACK_POINTS).

    `block_axes="reference"` cuts as main_HTNet.py (a point's x indexes rows); `"image"` as drawn.
    """

    name = "htnet"
    default_input_size = 28
    min_input_size = 8
    fixed_input_size = True
    uses_regions = True
    uses_points = True  # the bench passes five_points of the landmarks the region boxes come from

    def __init__(
        self, num_classes: int, in_channels: int = 3, input_size: int | None = None, *, dim: int = 256,
        heads: int = 3, num_hierarchies: int = 3, block_repeats: tuple[int, ...] = (2, 2, 10), patch_size: int = 7,
        mlp_mult: int = 4, dropout: float = 0.0, block_axes: str = "reference",
    ) -> None:
        super().__init__(num_classes, in_channels, input_size)
        seq_len, repeats = nest_geometry(self.name, self.input_size, patch_size, num_hierarchies, block_repeats)
        if self.input_size % 4:
            raise ModelError(f"htnet: input_size {self.input_size} must be divisible by 4 (two blocks of half "
                             "the grid a side)")
        self.block_axes = block_axes
        self.to_patch_embedding = nn.Sequential(PatchFold(patch_size),
                                                nn.Conv2d(in_channels * patch_size**2, dim, 1))
        self.layers = nest_layers(dim, heads, num_hierarchies, repeats, seq_len, mlp_mult, dropout)
        last = dim * 2 ** (num_hierarchies - 1)
        self.mlp_head = nn.Sequential(ChannelLayerNorm(last), ChannelMean(), nn.Linear(last, num_classes))

    @classmethod
    def accepts_input_size(cls, size: int) -> bool:
        """7x7 patches in 2x2 blocks of the 4x4 patch grid's halves: a multiple of 28."""
        return size >= cls.min_input_size and size % 28 == 0

    def block_points(self, batch: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """(B, 5, 2) points on the grid: batch `points`, else from `regions`, else the authors' fallback."""
        if "points" in batch:
            return batch["points"]
        if "regions" in batch:
            return points_from_region_boxes(batch["regions"].float(), self.input_size)
        return fallback_points(x.shape[0], self.input_size, x.device)

    def classify(self, tiles: torch.Tensor) -> torch.Tensor:
        """Logits of already tiled blocks (B, C, S, S): the authors' `HTNet.forward`."""
        return self.mlp_head(run_nest(self.layers, self.to_patch_embedding(tiles)))

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        x = self.features(batch)
        tiles = tile_blocks(x, self.block_points(batch, x), self.block_axes)
        return ModelOutput(self.classify(tiles))
