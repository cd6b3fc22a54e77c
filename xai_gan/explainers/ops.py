"""Image operations the explainers share, in torch so they run on any device."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def minmax(maps: torch.Tensor) -> torch.Tensor:
    """Scale each (..., H, W) map to [0, 1]; a constant map becomes 0."""
    low = maps.amin((-2, -1), keepdim=True)
    span = maps.amax((-2, -1), keepdim=True) - low
    return torch.where(span > 0, (maps - low) / torch.where(span > 0, span, 1), 0)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) images, reflecting at the borders."""
    if sigma <= 0:
        return images
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, images.shape[-1] - 1, images.shape[-2] - 1)
    x = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    out = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def otsu_threshold(maps: torch.Tensor, bins: int = 256) -> torch.Tensor:
    """Otsu's threshold of each (H, W) map in [0, 1]; returns shape (..., 1, 1)."""
    flat = maps.flatten(-2).clamp(0, 1)
    index = (flat * (bins - 1)).round().long()
    hist = torch.zeros(*flat.shape[:-1], bins, device=maps.device, dtype=maps.dtype)
    hist.scatter_add_(-1, index, torch.ones_like(flat))
    prob = hist / flat.shape[-1]
    levels = torch.linspace(0, 1, bins, device=maps.device, dtype=maps.dtype)
    weight0 = prob.cumsum(-1)
    mean0 = (prob * levels).cumsum(-1)
    total = mean0[..., -1:]
    between = (total * weight0 - mean0) ** 2 / (weight0 * (1 - weight0)).clamp_min(1e-12)
    return levels[between.argmax(-1)][..., None, None]
