"""RAN: region attention network for occlusion- and pose-robust expression recognition.

Wang, Peng, Yang, Meng, Qiao, "Region Attention Networks for Pose and Occlusion Robust Facial
Expression Recognition", IEEE TIP 29, 2020. Region crops of the input go through one shared
backbone; self-attention weights mu_i = sigmoid(q0 . f_i) give a global feature
F_m = sum mu_i f_i / sum mu_i; relation-attention nu_i = sigmoid(q1 . [f_i, F_m]); the face
representation is sum mu_i nu_i [f_i, F_m] / sum mu_i nu_i. Trained with cross-entropy plus the
region-biased loss on mu (the whole face, our last region, must not be the most attended).
"""

from __future__ import annotations

import torch
from torch import nn

from occmer.models.base import MERModel, ModelOutput
from occmer.models.layers import SmallResNet, check_boxes, roi_sample
from occmer.models.rrrn import default_regions


class RAN(MERModel):
    """RAN on motion features; `extras`: `region_weights` (mu, B x R) and `relation_weights` (nu)."""

    name = "ran"
    default_input_size = 112
    min_input_size = 16
    uses_regions = True

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        input_size: int | None = None,
        *,
        crop_size: int | None = None,
        width: int = 32,
        dropout: float = 0.3,
        region_bias: float = 1.0,
        margin: float = 0.02,
    ) -> None:
        super().__init__(num_classes, in_channels, input_size)
        self.crop_size = int(crop_size) if crop_size else max(16, self.input_size // 2)
        self.backbone = SmallResNet(in_channels, width)
        dim = self.backbone.out_channels
        self.self_attention = nn.Linear(dim, 1)
        self.relation_attention = nn.Linear(2 * dim, 1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * dim, num_classes))
        self.region_bias = float(region_bias)
        self.margin = float(margin)

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        x = self.features(batch)
        b = x.shape[0]
        boxes = batch.get("regions")
        boxes = default_regions(b, x.device) if boxes is None else check_boxes(boxes, b, self.name)
        r = boxes.shape[1]
        crops = roi_sample(x, boxes, self.crop_size).reshape(b * r, self.in_channels, self.crop_size, self.crop_size)
        feats = self.backbone(crops).mean(dim=(2, 3)).reshape(b, r, -1)  # (B, R, D)
        mu = torch.sigmoid(self.self_attention(feats).squeeze(-1).float())
        mu_w = mu.unsqueeze(-1).to(feats.dtype)
        global_feat = (mu_w * feats).sum(dim=1) / mu_w.sum(dim=1)
        joint = torch.cat([feats, global_feat.unsqueeze(1).expand_as(feats)], dim=-1)
        nu = torch.sigmoid(self.relation_attention(joint).squeeze(-1).float())
        both = (mu * nu).unsqueeze(-1).to(feats.dtype)
        face = (both * joint).sum(dim=1) / both.sum(dim=1)
        return ModelOutput(self.head(face), {"region_weights": mu, "relation_weights": nu})
