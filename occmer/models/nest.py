"""The nested hierarchical transformer (NesT) that HTNet and CausalNet are built on.

Both authors' repositories (wangzhifengharrison/HTNet Model.py, tony19980810/CausalNet
Models.py) carry the same copy of this network: patches folded into channels by a 1x1
convolution, then per level a transformer over the tokens of each block (1x1 convolutions
on a channel-first map, a learned 1-D position embedding) and an aggregation (3x3 conv,
channel LayerNorm, 3/2 max-pool). The modules here keep the attribute names of that code
(`to_patch_embedding.1`, `layers.{i}.0.layers.{j}.0.fn.to_qkv`, `mlp_head.2`, ...), so the
authors' state dicts load by their own keys (docs/models.md, "Reference check"); einops
rearranges are written as reshapes.
"""

from __future__ import annotations

import torch
from torch import nn

from occmer.errors import ModelError


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of a (B, C, H, W) map, parameters g, b of shape (1, C, 1, 1)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.b = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = torch.var(x, dim=1, unbiased=False, keepdim=True)
        mean = torch.mean(x, dim=1, keepdim=True)
        return (x - mean) / (var + self.eps).sqrt() * self.g + self.b


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.norm = ChannelLayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class ConvFeedForward(nn.Module):
    """1x1 conv -> GELU -> dropout -> 1x1 conv -> dropout (`net.0`, `net.3`)."""

    def __init__(self, dim: int, mlp_mult: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(dim, dim * mlp_mult, 1), nn.GELU(), nn.Dropout(dropout),
            nn.Conv2d(dim * mlp_mult, dim, 1), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def to_heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, heads*d, X, Y) -> (B, heads, X*Y, d)."""
    b, c, h, w = t.shape
    return t.reshape(b, heads, c // heads, h * w).transpose(-1, -2)


def from_heads(t: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(B, heads, X*Y, d) -> (B, heads*d, X, Y)."""
    b, heads, _, d = t.shape
    return t.transpose(-1, -2).reshape(b, heads * d, h, w)


class ConvAttention(nn.Module):
    """Multi-head self-attention over the pixels of a map; head width dim // heads (the code's, not dim_head)."""

    def __init__(self, dim: int, heads: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        dim_head = dim // heads
        if dim_head < 1:
            raise ModelError(f"attention: {heads} heads need at least {heads} channels, got {dim}")
        inner = dim_head * heads
        self.heads = heads
        self.scale = dim_head**-0.5
        self.attend = nn.Softmax(dim=-1)
        self.dropout = nn.Dropout(dropout)
        self.to_qkv = nn.Conv2d(dim, inner * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(inner, dim, 1), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        q, k, v = (to_heads(t, self.heads) for t in self.to_qkv(x).chunk(3, dim=1))
        attn = self.dropout(self.attend(q @ k.transpose(-1, -2) * self.scale))
        return self.to_out(from_heads(attn @ v, h, w))


class BlockTransformer(nn.Module):
    """`depth` pre-norm attention + feed-forward layers with a learned position embedding of seq_len."""

    def __init__(self, dim: int, seq_len: int, depth: int, heads: int, mlp_mult: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.pos_emb = nn.Parameter(torch.randn(seq_len))
        self.layers = nn.ModuleList(
            nn.ModuleList([PreNorm(dim, ConvAttention(dim, heads, dropout)),
                           PreNorm(dim, ConvFeedForward(dim, mlp_mult, dropout))])
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = x + self.pos_emb[: h * w].reshape(1, 1, h, w)
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        return x


def aggregate(dim: int, dim_out: int) -> nn.Sequential:
    """3x3 conv, channel LayerNorm, 3/2 max-pool: halves the grid between levels."""
    return nn.Sequential(nn.Conv2d(dim, dim_out, 3, padding=1), ChannelLayerNorm(dim_out),
                         nn.MaxPool2d(3, stride=2, padding=1))


class PatchFold(nn.Module):
    """(B, C, H*p, W*p) -> (B, p*p*C, H, W), channels ordered (p1, p2, c) as einops writes them."""

    def __init__(self, patch: int) -> None:
        super().__init__()
        self.patch = patch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, hp, wp = x.shape
        p = self.patch
        x = x.reshape(b, c, hp // p, p, wp // p, p).permute(0, 3, 5, 1, 2, 4)
        return x.reshape(b, p * p * c, hp // p, wp // p)


class ChannelMean(nn.Module):
    """(B, C, H, W) -> (B, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def split_blocks(x: torch.Tensor, blocks: int) -> torch.Tensor:
    """(B, C, b*h, b*w) -> (B*b*b, C, h, w)."""
    bsz, c, hh, ww = x.shape
    x = x.reshape(bsz, c, blocks, hh // blocks, blocks, ww // blocks).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(bsz * blocks * blocks, c, hh // blocks, ww // blocks)


def merge_blocks(x: torch.Tensor, blocks: int) -> torch.Tensor:
    """Inverse of split_blocks."""
    n, c, h, w = x.shape
    x = x.reshape(n // (blocks * blocks), blocks, blocks, c, h, w).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(n // (blocks * blocks), c, blocks * h, blocks * w)


def nest_levels(dim: int, heads: int, num_hierarchies: int) -> list[tuple[int, int, int, int]]:
    """(level, heads, dim_in, dim_out) per level, from the top (most blocks) down, as the code lays them out."""
    mults = [2**i for i in range(num_hierarchies)]
    dims = [m * dim for m in mults]
    dims = [*dims, dims[-1]]
    return [(num_hierarchies - 1 - i, m * heads, dims[i], dims[i + 1]) for i, m in enumerate(mults)]


def nest_layers(
    dim: int, heads: int, num_hierarchies: int, block_repeats: tuple[int, ...], seq_len: int, mlp_mult: int,
    dropout: float,
) -> nn.ModuleList:
    """One (BlockTransformer, aggregate or Identity) pair per level."""
    return nn.ModuleList(
        nn.ModuleList([BlockTransformer(dim_in, seq_len, depth, level_heads, mlp_mult, dropout),
                       aggregate(dim_in, dim_out) if level else nn.Identity()])
        for (level, level_heads, dim_in, dim_out), depth in zip(
            nest_levels(dim, heads, num_hierarchies), block_repeats, strict=True)
    )


def run_nest(layers: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """The levels in order: split into 2^level blocks a side, transform, merge, aggregate."""
    for level, (transformer, agg) in zip(reversed(range(len(layers))), layers, strict=True):
        blocks = 2**level
        x = agg(merge_blocks(transformer(split_blocks(x, blocks)), blocks))
    return x


def nest_geometry(name: str, input_size: int, patch_size: int, num_hierarchies: int, block_repeats) -> tuple[int, tuple]:
    """(seq_len, block_repeats per level), checking that the grid splits as the code needs."""
    repeats = tuple(block_repeats) if isinstance(block_repeats, (tuple, list)) else (int(block_repeats),) * num_hierarchies
    if num_hierarchies < 1 or len(repeats) != num_hierarchies or min(repeats) < 1:
        raise ModelError(f"{name}: block_repeats {block_repeats!r} must give one depth >= 1 per hierarchy "
                         f"({num_hierarchies})")
    if patch_size < 1 or input_size % patch_size:
        raise ModelError(f"{name}: input_size {input_size} must be divisible by patch_size {patch_size}")
    fmap = input_size // patch_size
    blocks = 2 ** (num_hierarchies - 1)
    if fmap % blocks:
        raise ModelError(f"{name}: the {fmap}x{fmap} patch grid does not split into {blocks}x{blocks} blocks; "
                         "change patch_size or num_hierarchies")
    return (fmap // blocks) ** 2, tuple(int(r) for r in repeats)
