"""RRRN (Region-inspired Relation Reasoning Network), our reading of the abstract of arXiv 2107.05904.

backbone (shared small ResNet) -> region nodes by bilinear RoI pooling -> RI module (a weight in
(0, 1) per region from its own feature and its relation to the global node) -> RR module (graph
convolutions over the weighted nodes, adjacency learned and mixed with an anatomical prior) ->
attention-weighted readout -> classifier. Every choice is documented in docs/models.md.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from occmer.errors import ModelError
from occmer.models.base import MERModel, ModelOutput
from occmer.models.layers import SmallResNet, check_boxes, roi_sample
from occmer.models.regions import ANATOMICAL_ADJACENCY, grid_adjacency, grid_boxes

PRIORS = {"anatomical": lambda: ANATOMICAL_ADJACENCY, "grid": lambda: grid_adjacency(3, 3)}


def default_regions(batch_size: int, device: torch.device) -> torch.Tensor:
    """The 3x3 grid plus the global node, for batches that carry no 'regions'."""
    return torch.from_numpy(grid_boxes(3, 3)).to(device).unsqueeze(0).expand(batch_size, -1, -1)


def region_visibility(occlusion: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(B, R) fraction of each box left visible by the occluder alpha (B, 1, S, S)."""
    alpha = roi_sample(occlusion.float(), boxes, out_size=1, sampling=4).reshape(boxes.shape[0], boxes.shape[1])
    return 1.0 - alpha.clamp(0.0, 1.0)


class RegionInspired(nn.Module):
    """RI: w_i = sigmoid(self_i) * sigmoid(relation_i) in (0, 1).

    self_i reads the region's own feature (importance, and unobstructedness as the features of an
    occluded region look different); relation_i reads [f_i, f_global], as in region attention
    networks. With `use_occlusion` the visible fraction of the box adds to self_i (learned gain).
    """

    def __init__(self, dim: int, use_occlusion: bool = False) -> None:
        super().__init__()
        self.self_attention = nn.Linear(dim, 1)
        self.relation = nn.Sequential(nn.Linear(2 * dim, dim // 2), nn.ReLU(inplace=True), nn.Linear(dim // 2, 1))
        self.occlusion_gain = nn.Parameter(torch.tensor(2.0)) if use_occlusion else None

    def forward(self, nodes: torch.Tensor, visibility: torch.Tensor | None = None) -> torch.Tensor:
        own = self.self_attention(nodes).squeeze(-1)
        if self.occlusion_gain is not None and visibility is not None:
            own = own + self.occlusion_gain * (visibility - 0.5)
        glob = nodes[:, -1:].expand_as(nodes)
        rel = self.relation(torch.cat([nodes, glob], dim=-1)).squeeze(-1)
        return torch.sigmoid(own.float()) * torch.sigmoid(rel.float())


class GraphReasoning(nn.Module):
    """RR layer: h <- LayerNorm(h + dropout(relu(A h W))), A = (1 - lam) softmax(q k^T / sqrt(d)) + lam P.

    P is the row-normalised prior (absent when prior is None); lam = sigmoid(learned scalar).
    """

    def __init__(self, dim: int, prior: torch.Tensor | None, prior_mix: float, dropout: float) -> None:
        super().__init__()
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.scale = 1.0 / math.sqrt(dim)
        if prior is not None:
            self.register_buffer("prior", prior / prior.sum(dim=1, keepdim=True), persistent=False)
            mix = min(max(prior_mix, 1e-3), 1 - 1e-3)
            self.mix_logit = nn.Parameter(torch.tensor(math.log(mix / (1 - mix))))
        else:
            self.prior = None
            self.mix_logit = None

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = torch.einsum("brd,bsd->brs", self.query(h), self.key(h)) * self.scale
        adjacency = torch.softmax(scores.float(), dim=-1)
        if self.prior is not None:
            if self.prior.shape[0] != h.shape[1]:
                raise ModelError(
                    f"rrrn: the adjacency prior has {self.prior.shape[0]} nodes but the batch has "
                    f"{h.shape[1]} regions; "
                    "build with prior='none' or pass boxes from region_boxes()/grid_boxes(3, 3)"
                )
            lam = torch.sigmoid(self.mix_logit)
            adjacency = (1 - lam) * adjacency + lam * self.prior
        message = torch.einsum("brs,bsd->brd", adjacency.to(h.dtype), self.value(h))
        return self.norm(h + self.dropout(F.relu(message))), adjacency


class RRRN(MERModel):
    """Full RRRN: backbone + RI + RR; `extras` has `region_weights` (B, R) and `adjacency` (B, R, R)."""

    name = "rrrn"
    default_input_size = 112
    min_input_size = 16
    uses_regions = True
    with_ri: ClassVar[bool] = True
    with_rr: ClassVar[bool] = True

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        input_size: int | None = None,
        *,
        width: int = 32,
        dim: int = 128,
        roi_size: int = 2,
        gcn_layers: int = 2,
        prior: str = "anatomical",
        prior_mix: float = 0.5,
        dropout: float = 0.3,
        use_occlusion: bool = False,
        region_bias: float = 1.0,
        margin: float = 0.02,
    ) -> None:
        super().__init__(num_classes, in_channels, input_size)
        if prior != "none" and prior not in PRIORS:
            raise ModelError(f"{self.name}: unknown prior {prior!r}; choose one of {sorted(PRIORS) + ['none']}")
        self.backbone = SmallResNet(in_channels, width)
        self.roi_size = roi_size
        self.project = nn.Sequential(
            nn.Linear(self.backbone.out_channels * roi_size * roi_size, dim), nn.LayerNorm(dim), nn.ReLU(inplace=True)
        )
        self.box_embedding = nn.Linear(4, dim)  # tells the graph which box a node came from
        self.uses_occlusion = bool(use_occlusion) and self.with_ri
        self.ri = RegionInspired(dim, self.uses_occlusion) if self.with_ri else None
        prior_t = None if prior == "none" else torch.from_numpy(PRIORS[prior]().copy())
        layers = gcn_layers if self.with_rr else 0
        self.rr = nn.ModuleList(GraphReasoning(dim, prior_t, prior_mix, dropout) for _ in range(layers))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * dim, num_classes))
        self.region_bias = float(region_bias) if self.with_ri else 0.0
        self.margin = float(margin)

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        x = self.features(batch)
        boxes = batch.get("regions")
        boxes = default_regions(x.shape[0], x.device) if boxes is None else check_boxes(boxes, x.shape[0], self.name)
        fmap = self.backbone(x)
        pooled = roi_sample(fmap, boxes, self.roi_size, sampling=2).flatten(2)  # (B, R, C*roi*roi)
        nodes = self.project(pooled) + self.box_embedding(boxes.to(pooled.dtype))
        extras: dict[str, torch.Tensor] = {}
        if self.ri is not None:
            visibility = None
            if self.uses_occlusion and batch.get("occlusion") is not None:
                visibility = region_visibility(batch["occlusion"], boxes)
            weights = self.ri(nodes, visibility)
            nodes = nodes * weights.unsqueeze(-1).to(nodes.dtype)
            extras["region_weights"] = weights
        for layer in self.rr:
            nodes, adjacency = layer(nodes)
            extras["adjacency"] = adjacency
        if self.ri is not None:
            w = extras["region_weights"].unsqueeze(-1).to(nodes.dtype)
            pooled_nodes = (w * nodes).sum(dim=1) / w.sum(dim=1).clamp_min(1e-6)
        else:
            pooled_nodes = nodes.mean(dim=1)
        logits = self.head(torch.cat([pooled_nodes, nodes[:, -1]], dim=-1))
        return ModelOutput(logits, extras)


class RRRNNoRI(RRRN):
    """Ablation: no RI module (nodes unweighted, mean readout, no region-biased term)."""

    name = "rrrn-no-ri"
    with_ri = False


class RRRNNoRR(RRRN):
    """Ablation: no graph reasoning (RI-weighted readout of the pooled region features)."""

    name = "rrrn-no-rr"
    with_rr = False


class RRRNBackbone(MERModel):
    """Ablation: the RRRN backbone alone, global average pooling and a linear classifier."""

    name = "rrrn-backbone"
    default_input_size = 112
    min_input_size = 16

    def __init__(
        self, num_classes: int, in_channels: int = 3, input_size: int | None = None, *, width: int = 32,
        dropout: float = 0.3,
    ) -> None:
        super().__init__(num_classes, in_channels, input_size)
        self.backbone = SmallResNet(in_channels, width)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.backbone.out_channels, num_classes))

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        fmap = self.backbone(self.features(batch))
        return ModelOutput(self.head(fmap.mean(dim=(2, 3))))
