"""Complexity: how concentrated is the map? A few strong pixels are easier to read."""
from __future__ import annotations

import torch
from .registry import Explained, metric


def sparseness(maps: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Gini index of each map's values (Chalasani et al., 2020): 0 = uniform, near 1 = one
    pixel. ``eps`` keeps an all-zero map defined, as Quantus' Sparseness does."""
    values = (maps.flatten(1).abs().double() + eps).sort(1).values
    n = values.shape[1]
    i = torch.arange(1, n + 1, device=maps.device, dtype=values.dtype)
    return (((2 * i - n - 1) * values).sum(1) / (n * values.sum(1))).float()


def entropy(maps: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of the map as a distribution over pixels (Quantus' Complexity).

    Lower is simpler: log(H * W) for a uniform map, 0 for one pixel. An all-zero map, which
    is no distribution, gives NaN.
    """
    flat = maps.flatten(1).abs().double()
    total = flat.sum(1, keepdim=True)
    p = flat / total.clamp_min(1e-300)
    h = -(p * torch.log(p + 1e-12)).sum(1)
    return torch.where(total[:, 0] > 0, h, torch.nan).float()


@metric("sparseness", "complexity", "higher")
def _sparseness(e: Explained) -> torch.Tensor:
    return sparseness(e.maps)


@metric("entropy", "complexity", "lower")
def _entropy(e: Explained) -> torch.Tensor:
    return entropy(e.maps)
