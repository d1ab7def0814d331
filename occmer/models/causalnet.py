"""CausalNet (ICCV 2025): two NesT towers over four flow maps, cross attention and a causal attention block.

Layer for layer as the authors' code (tony19980810/CausalNet, Models.py, settings of
main_train.py): each of the four maps (`X`, `X_1`, `X_2`, `X_3` of the release) is tiled
from four 14x14 blocks at the fixed points main_train.py uses for every face
(landmark_blocks.FALLBACK_POINTS), maps 0 and 1 run through one NesT tower, maps 2 and 3
through a second; the towers' 1x1 outputs are read as 2x2 token maps; maps 2/3 exchange
information in a cross transformer (its depth is the last level's block repeat, as in the
code), are added to maps 0/1, and a causal attention block (spatial, temporal and causal
relation attention) feeds a two-layer linear head. Code quirks kept: the cross attention
scales by dim^-0.5 (not the head width); its keys/values come from the un-normalised tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from occmer.errors import ModelError
from occmer.models.base import MERModel, ModelOutput
from occmer.models.landmark_blocks import fallback_points, tile_blocks
from occmer.models.nest import PatchFold, nest_geometry, nest_layers, run_nest

N_MAPS = 4


def _grid_bias(gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask, bias) over the 4 tokens of a 2x2 grid: diagonal neighbours masked, biased by -(j+1)*gamma."""
    positions = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float)
    dist = torch.cdist(positions, positions, p=2)
    mask = (dist <= 1.0).float()
    columns = torch.arange(1, 5, dtype=torch.float).expand(4, 4)
    bias = torch.where(dist > 1.0, -columns * gamma, torch.zeros(4, 4))
    return mask, bias


def _split(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, heads*d) -> (B, heads, N, d)."""
    b, n, c = t.shape
    return t.reshape(b, n, heads, c // heads).transpose(1, 2)


def _join(t: torch.Tensor) -> torch.Tensor:
    """(B, heads, N, d) -> (B, N, heads*d)."""
    b, h, n, d = t.shape
    return t.transpose(1, 2).reshape(b, n, h * d)


def _mlp(dim: int, mult: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim * mult), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(dim * mult, dim), nn.Dropout(dropout))


class GridMaskedAttention(nn.Module):
    """Attention over 2x2 tokens with the neighbour mask and distance bias (`M_mask`, `P_matrix` buffers)."""

    def __init__(self, dim: int, heads: int, dropout: float, gamma: float, scale: float) -> None:
        super().__init__()
        self.heads = heads
        self.scale = scale
        mask, bias = _grid_bias(gamma)
        self.register_buffer("M_mask", mask)
        self.register_buffer("P_matrix", bias)
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(dim, dim * 2)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(dropout))

    def attend(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q = _split(self.to_q(x), self.heads)
        k, v = (_split(t, self.heads) for t in self.to_kv(context).chunk(2, dim=-1))
        attn = (q @ k.transpose(-1, -2)) * self.scale * self.M_mask + self.P_matrix
        attn = attn.softmax(dim=-1) * self.M_mask
        return self.to_out(_join(attn @ v))

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.attend(x, context)


class CrossTransformer(nn.Module):
    """Maps 2 and 3 attend to each other (`depth` layers, one shared norm/attention/MLP per layer)."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_mult: int, gamma: float, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([nn.LayerNorm(dim), GridMaskedAttention(dim, heads, dropout, gamma, dim**-0.5),
                           _mlp(dim, mlp_mult, dropout)])
            for _ in range(depth)
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for norm, attn, ff in self.layers:
            a_norm, b_norm = norm(a), norm(b)
            a = a + attn(a_norm, b)
            b = b + attn(b_norm, a)
            a = ff(a) + a
            b = ff(b) + b
        return a, b


class SpatialTemporalCausalAttention(GridMaskedAttention):
    """Masked spatial self-attention on each stream, then the second stream attends to (first, itself) per token."""

    def __init__(self, dim: int, heads: int, dropout: float, gamma: float) -> None:
        super().__init__(dim, heads, dropout, gamma, (dim // heads) ** -0.5)
        self.temp_to_q = nn.Linear(dim, dim)
        self.temp_to_kv = nn.Linear(dim, dim * 2)
        self.temp_to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(self.to_out[1].p))

    def temporal(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        q = _split(self.temp_to_q(x2), self.heads)
        k, v = (_split(t, self.heads) for t in self.temp_to_kv(x1).chunk(2, dim=-1))
        k_self, v_self = (_split(t, self.heads) for t in self.temp_to_kv(x2).chunk(2, dim=-1))
        keys, values = torch.stack([k, k_self], dim=3), torch.stack([v, v_self], dim=3)  # (B, h, N, 2, d)
        weights = F.softmax((q.unsqueeze(3) * keys).sum(-1) * self.scale, dim=-1)  # (B, h, N, 2)
        out = (weights.unsqueeze(-1) * values).sum(3)
        return self.temp_to_out(_join(out))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x1 = self.attend(x1, x1) + x1
        x2 = self.attend(x2, x2) + x2
        return x1, self.temporal(x1, x2) + x2


class CausalRelationMining(nn.Module):
    """Forward tokens attend to backward ones (values of their sum), plus both, through an output layer."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(dropout))

    def forward(self, forward_tokens: torch.Tensor, backward_tokens: torch.Tensor) -> torch.Tensor:
        q = _split(self.to_q(forward_tokens), self.heads)
        k = _split(self.to_k(backward_tokens), self.heads)
        v = _split(self.to_v(backward_tokens + forward_tokens), self.heads)
        out = _join((q @ k.transpose(-1, -2) * self.scale).softmax(dim=-1) @ v)
        return self.to_out(out + forward_tokens + backward_tokens)


class CausalAttentionBlock(nn.Module):
    """The streams in both orders through shared layers; returns (B, 3*4, d): causal, forward, backward tokens."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_mult: int, gamma: float, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([nn.LayerNorm(dim), SpatialTemporalCausalAttention(dim, heads, dropout, gamma),
                           _mlp(dim, mlp_mult, dropout), CausalRelationMining(dim, heads, dropout)])
            for _ in range(depth)
        )

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        y1_for, y2_for, y1_back, y2_back = x1, x2, x2, x1
        y_long = x1
        for norm, st_attn, ff, crm in self.layers:
            y1_for, y2_for = st_attn(norm(y1_for), norm(y2_for))
            y1_for, y2_for = ff(y1_for) + y1_for, ff(y2_for) + y2_for
            y1_back, y2_back = st_attn(norm(y1_back), norm(y2_back))
            y1_back, y2_back = ff(y1_back) + y1_back, ff(y2_back) + y2_back
            y_long = crm(y2_for, y2_back)
        return torch.cat([y_long, y1_for, y1_back], dim=1)


class CausalNet(MERModel):
    """CausalNet on (B, 4*C, S, S): the four maps' channels stacked in map order (X, X_1, X_2, X_3)."""

    name = "causalnet"
    default_input_size = 28
    min_input_size = 8
    min_in_channels = N_MAPS
    input_maps = N_MAPS
    fixed_input_size = True

    def __init__(
        self, num_classes: int, in_channels: int = 12, input_size: int | None = None, *, dim: int = 256,
        heads: int = 3, num_hierarchies: int = 3, block_repeats: tuple[int, ...] = (3, 3, 9), patch_size: int = 7,
        mlp_mult: int = 4, dropout: float = 0.0, gamma: float = 0.5, attention_heads: int = 8, cab_depth: int = 1,
        block_axes: str = "reference",
    ) -> None:
        super().__init__(num_classes, in_channels, input_size)
        if in_channels % N_MAPS:
            raise ModelError(f"causalnet: in_channels {in_channels} must be 4 maps x C channels (X, X_1, X_2, X_3); "
                             "import the four-map layout (occmer import --layout maps)")
        seq_len, repeats = nest_geometry(self.name, self.input_size, patch_size, num_hierarchies, block_repeats)
        last = dim * 2 ** (num_hierarchies - 1)
        final_side = self.input_size // patch_size // 2 ** (num_hierarchies - 1)
        if final_side != 1 or last % 4:
            raise ModelError(f"causalnet: the towers must end in one 1x1 token of 4k channels to be read as 2x2 "
                             f"tokens; input_size {self.input_size}, patch_size {patch_size} and num_hierarchies "
                             f"{num_hierarchies} leave {final_side}x{final_side} x {last}")
        token_dim = last // 4
        if token_dim % attention_heads:
            raise ModelError(f"causalnet: token width {token_dim} is not divisible by attention_heads {attention_heads}")
        self.map_channels = in_channels // N_MAPS
        self.block_axes = block_axes
        patch_dim = self.map_channels * patch_size**2
        self.to_patch_embedding = nn.Sequential(PatchFold(patch_size), nn.Conv2d(patch_dim, dim, 1))
        self.to_patch_embedding1 = nn.Sequential(PatchFold(patch_size), nn.Conv2d(patch_dim, dim, 1))
        self.layers = nest_layers(dim, heads, num_hierarchies, repeats, seq_len, mlp_mult, dropout)
        self.layers1 = nest_layers(dim, heads, num_hierarchies, repeats, seq_len, mlp_mult, dropout)
        self.CrossAttention = CrossTransformer(token_dim, repeats[-1], attention_heads, mlp_mult, gamma, dropout)
        self.cab = CausalAttentionBlock(token_dim, cab_depth, attention_heads, mlp_mult, gamma, dropout)
        self.mlp_head = nn.Sequential(nn.Linear(3 * 4 * token_dim, 2048), nn.Linear(2048, num_classes))

    @classmethod
    def accepts_input_size(cls, size: int) -> bool:
        """The towers must end in one 1x1 token: 7x7 patches, three levels: 28 only."""
        return size == 28

    def tiles(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4*C, S, S) maps -> (B, 4, C, S, S) blocks tiled at the code's fixed points."""
        b, _, s, _ = x.shape
        maps = x.reshape(b * N_MAPS, self.map_channels, s, s)
        points = fallback_points(b * N_MAPS, s, x.device)
        return tile_blocks(maps, points, self.block_axes).reshape(b, N_MAPS, self.map_channels, s, s)

    def classify(self, img: torch.Tensor) -> torch.Tensor:
        """Logits of tiled maps (B, 4, C, S, S): the authors' `CausalNet.forward`."""
        b = img.shape[0]
        streams = [run_nest(self.layers, self.to_patch_embedding(img[:, 0])),
                   run_nest(self.layers, self.to_patch_embedding(img[:, 1])),
                   run_nest(self.layers1, self.to_patch_embedding1(img[:, 2])),
                   run_nest(self.layers1, self.to_patch_embedding1(img[:, 3]))]
        # the 1x1 output of each tower read as 2x2 tokens (channels split in four, as the code's reshape)
        x0, x1, x2, x3 = (t.reshape(b, t.shape[1] // 4, 2, 2).flatten(2).transpose(1, 2) for t in streams)
        x2, x3 = self.CrossAttention(x2, x3)
        return self.mlp_head(self.cab(x0 + x2, x1 + x3).flatten(1))

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        return ModelOutput(self.classify(self.tiles(self.features(batch))))
