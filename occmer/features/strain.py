"""Optical strain: how much a flow field stretches and shears the skin, independent of translation."""

from __future__ import annotations

import numpy as np

STRAIN_DEFINITION = (
    "eps = sqrt(u_x^2 + v_y^2 + 0.5 (u_y + v_x)^2), derivatives by numpy.gradient "
    "(central differences, one-sided at the border) of the stored u, v on the S x S grid"
)


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """(H, W) float32 strain magnitude of an (H, W, 2) flow (u, v).

    The magnitude of the infinitesimal strain tensor: normal strains u_x, v_y and shear
    0.5 (u_y + v_x). A translation or a small rotation gives 0; a zoom by s gives sqrt(2)|s - 1|.
    It is dimensionless (pixels per pixel), so it does not change when the grid is resized.
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be (H, W, 2), got {flow.shape}")
    u_y, u_x = np.gradient(flow[:, :, 0])
    v_y, v_x = np.gradient(flow[:, :, 1])
    shear = 0.5 * (u_y + v_x)
    return np.sqrt(u_x**2 + v_y**2 + 2.0 * shear**2).astype(np.float32)
