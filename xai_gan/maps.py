"""Operations on images and maps that explainers, the GAN and the metrics share, in torch so
they run on any device: scaling, resizing, blurring, thresholding, and per-image map
comparisons (MAE, Pearson, Spearman, SSIM)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def minmax(maps: torch.Tensor) -> torch.Tensor:
    """Scale each (..., H, W) map to [0, 1]; a constant map becomes 0."""
    low = maps.amin((-2, -1), keepdim=True)
    span = maps.amax((-2, -1), keepdim=True) - low
    return torch.where(span > 0, (maps - low) / torch.where(span > 0, span, 1), 0)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """(..., H, W) images or maps to (..., size, size): bilinear, anti-aliased when shrinking
    (a convex blend of pixels, so [0, 1] stays [0, 1]); unchanged when already that size."""
    if tuple(images.shape[-2:]) == (size, size):
        return images
    lead = images.shape[:-2]
    flat = images.reshape(-1, 1, *images.shape[-2:])
    out = F.interpolate(flat.float(), size=(size, size), mode="bilinear", align_corners=False,
                        antialias=size < max(images.shape[-2:]))
    return out.reshape(*lead, size, size).to(images.dtype)


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


def _pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"expected two (B, H, W) map sets of one shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    return a.double(), b.double()


def mae(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per image."""
    a, b = _pair(a, b)
    return (a - b).abs().mean((1, 2)).float()


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation per image; NaN where either map is constant."""
    a, b = _pair(a, b)
    a = a.flatten(1) - a.flatten(1).mean(1, keepdim=True)
    b = b.flatten(1) - b.flatten(1).mean(1, keepdim=True)
    norm = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(norm > 0, (a * b).sum(1) / norm.clamp_min(1e-300), torch.nan).float()


def average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks (1-based) of each row, tied values sharing their average rank, as scipy does."""
    ranks = torch.empty_like(values, dtype=torch.float64)
    for row, out in zip(values, ranks):
        _, inverse, counts = torch.unique(row, return_inverse=True, return_counts=True)
        upper = counts.cumsum(0).double()
        out.copy_((upper - (counts - 1) / 2)[inverse])
    return ranks


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation per image (average ranks for ties)."""
    a, b = _pair(a, b)
    shape = a.shape
    return pearson(average_ranks(a.flatten(1)).view(shape), average_ranks(b.flatten(1)).view(shape))


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, sigma: float = 1.5,
         win_size: int = 11) -> torch.Tensor:
    """Structural similarity per image: Gaussian window (sigma 1.5, 11 px), K1 = 0.01,
    K2 = 0.03, averaged over the valid region; the same definition as scikit-image's
    ``structural_similarity(gaussian_weights=True, use_sample_covariance=False)``."""
    a, b = _pair(a, b)
    x = torch.arange(win_size, dtype=a.dtype, device=a.device) - (win_size - 1) / 2
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    g = g / g.sum()
    window = (g[:, None] * g[None, :])[None, None]

    def blur(t):
        return F.conv2d(t[:, None], window)[:, 0]

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)
         / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))
    return s.mean((1, 2)).float()
