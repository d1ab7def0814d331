"""Loss terms: cross-entropy and the region-biased term of region attention networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def classification_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    class_weights: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy in float32 (stable under autocast), optionally class-weighted and smoothed."""
    weight = None if class_weights is None else class_weights.to(device=logits.device, dtype=torch.float32)
    return F.cross_entropy(logits.float(), labels.long(), weight=weight, label_smoothing=label_smoothing)


def region_biased_loss(weights: torch.Tensor, margin: float = 0.02) -> torch.Tensor:
    """mean(max(0, margin - (max_i w_i - w_global))) over the batch; the global node is the last of R.

    It asks that at least one local region matters more than the whole face, so the
    attention does not collapse onto the global node (RB-loss of Wang et al. 2020).
    """
    local_best = weights[:, :-1].float().max(dim=1).values
    return F.relu(margin - (local_best - weights[:, -1].float())).mean()
