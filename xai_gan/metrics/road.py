"""ROAD, RemOve And Debias (Rong et al., ICML 2022): faithfulness that a blurry map cannot game.

Deletion and insertion replace pixels by a baseline (a blurred copy, zero, the mean). The CNN
then sees the outline of the removed region, and a blurred baseline keeps much of what was
removed: both reward some maps for the wrong reason. ROAD fills the removed pixels by noisy
linear imputation instead: each removed pixel is the weighted mean of its 8 neighbours
(1/6 for the sides, 1/12 for the corners), all solved together, plus a little noise. The fill
then carries neither the removed values nor the region's outline.

MoRF removes the most relevant fraction of the pixels (a lower class probability is better),
LeRF the least relevant (higher is better), each averaged over removed fractions 0.1 ... 0.9.
Combined is ``(LeRF - MoRF) / 2`` (higher is better), as in pytorch-grad-cam's
``ROADCombined`` over the same percentiles; the score here is the class probability, as in
deletion and insertion.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..devices import follows_model
from ..maps import gaussian_blur
from .faithfulness import class_probability, pixel_ranks
from .registry import Explained, Options, metric

FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
NEIGHBOURS = ((1 / 12, 1 / 6, 1 / 12), (1 / 6, 0.0, 1 / 6), (1 / 12, 1 / 6, 1 / 12))


def impute(images: torch.Tensor, removed: torch.Tensor, noise: float = 0.01, seed: int = 0,
           tol: float = 1e-4, max_iter: int | None = None) -> torch.Tensor:
    """Noisy linear imputation of the ``removed`` pixels of ``images``.

    ``images`` is (B, C, H, W), ``removed`` a (B, 1, H, W) boolean mask. Each removed pixel
    becomes the weighted mean of its in-image neighbours (:data:`NEIGHBOURS`), removed ones
    included: a sparse linear system per image and channel, solved by batched conjugate
    gradients to a relative residual of ``tol``, started from the solution at half the
    resolution (coarse to fine, so large holes cost few iterations). Gaussian noise of std
    ``noise`` (seeded, drawn on the CPU so every device gives the same fill) is added to the
    filled pixels.
    """
    if removed.shape != (images.shape[0], 1, *images.shape[-2:]):
        raise ValueError(f"removed {tuple(removed.shape)} does not match images "
                         f"{tuple(images.shape)}: expected (B, 1, H, W)")
    if removed.flatten(1).all(1).any():
        raise ValueError("an image has every pixel removed: nothing to impute from")
    filled = _solve(images, removed.to(images.dtype), tol, max_iter)
    generator = torch.Generator().manual_seed(seed)
    jitter = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return torch.where(removed, filled + noise * jitter.to(images.device), images)


def _solve(images: torch.Tensor, unknown: torch.Tensor, tol: float, max_iter: int | None
           ) -> torch.Tensor:
    """The noise-free fill of the ``unknown`` (0/1, (B, 1, H, W)) pixels; zero elsewhere."""
    channels, side = images.shape[1], max(images.shape[-2:])
    kernel = torch.tensor(NEIGHBOURS, dtype=images.dtype, device=images.device)
    kernel = kernel.expand(channels, 1, 3, 3)

    def spread(x):  # sum of the neighbours' values, weighted; outside the image counts 0
        return F.conv2d(x, kernel, padding=1, groups=channels)

    degree = spread(torch.ones_like(images[:1]))  # weight of the in-image neighbours

    def system(x):  # (degree * x_i - sum_j w_ij x_j) on the removed pixels
        return (degree * x - spread(x)) * unknown

    known = 1 - unknown
    rhs = spread(images * known) * unknown
    if side > 32:  # start from the coarser problem's solution, brought back up
        coverage = F.avg_pool2d(known, 2, ceil_mode=True)
        coarse = F.avg_pool2d(images * known, 2, ceil_mode=True) / coverage.clamp_min(1e-6)
        coarse_unknown = (coverage == 0).to(images.dtype)
        start = _solve(coarse, coarse_unknown, tol, max_iter) + coarse * (1 - coarse_unknown)
        x = F.interpolate(start, size=images.shape[-2:], mode="bilinear",
                          align_corners=False) * unknown
    else:  # the known pixels' local average
        sigma = side / 16
        x = gaussian_blur(images * known, sigma) / gaussian_blur(known, sigma).clamp_min(1e-6)
        x = x * unknown
    residual = rhs - system(x)
    direction = residual.clone()
    energy = residual.pow(2).sum((2, 3), keepdim=True)
    target = tol ** 2 * rhs.pow(2).sum((2, 3), keepdim=True).clamp_min(1e-12)
    for _ in range(max_iter or 4 * side):
        if (energy <= target).all():
            break
        moved = system(direction)
        step = energy / (direction * moved).sum((2, 3), keepdim=True).clamp_min(1e-20)
        x = x + step * direction
        residual = residual - step * moved
        new_energy = residual.pow(2).sum((2, 3), keepdim=True)
        direction = residual + (new_energy / energy.clamp_min(1e-30)) * direction
        energy = new_energy
    return x


IMPUTE_BATCH = 64  # images per imputation: each draws its own noise, so this is fixed


@follows_model
@torch.inference_mode()
def road_curves(model: nn.Module, images: torch.Tensor, maps: torch.Tensor,
                targets: torch.Tensor, fractions=FRACTIONS, noise: float = 0.01, seed: int = 0,
                batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Class probability after imputing the most (MoRF) and the least (LeRF) relevant
    ``fractions`` of each image's pixels: two (B, len(fractions)) tensors.

    Costs ``2 * len(fractions)`` forward passes per image, in batches of ``batch_size``
    (default: :func:`~xai_gan.devices.forward_batch`), plus the imputations, 64
    images at a time (each chunk draws its own noise: a fixed chunk keeps the scores the same
    whatever the batch).
    """
    if maps.shape[-2:] != images.shape[-2:] or len(maps) != len(images):
        raise ValueError(f"maps {tuple(maps.shape)} do not match images {tuple(images.shape)}")
    if not all(0 < f < 1 for f in fractions):
        raise ValueError(f"fractions must lie strictly between 0 and 1, got {fractions}")
    ranks = pixel_ranks(maps)  # 0 = most relevant
    pixels = ranks[0].numel()
    masks = []
    for f in fractions:
        count = round(f * pixels)
        masks += [ranks < count, ranks >= pixels - count]  # MoRF, then LeRF
    removed = torch.cat(masks)  # (2F * B, 1, H, W), fraction-major
    repeated = images.repeat(len(masks), 1, 1, 1)
    filled = torch.cat([impute(x, r, noise, seed + i)
                        for i, (x, r) in enumerate(zip(repeated.split(IMPUTE_BATCH),
                                                       removed.split(IMPUTE_BATCH)))])
    probs = class_probability(model, filled, targets.repeat(len(masks)), batch_size)
    probs = probs.view(len(fractions), 2, len(images))
    return probs[:, 0].T, probs[:, 1].T


# the three scores read one pair of curves, so they share one seed (each batch adds the index
# of its first image, so batches draw different noise)
ROAD = Options(seed=0)


def _road(e: Explained, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return e.once("road", lambda: road_curves(e.model, e.images, e.maps, e.classes,
                                              seed=seed + e.first_image))


@metric("road_morf", "faithfulness", "lower", options=ROAD)
def _road_morf(e: Explained, seed: int) -> torch.Tensor:
    return _road(e, seed)[0].mean(1)


@metric("road_lerf", "faithfulness", "higher", options=ROAD)
def _road_lerf(e: Explained, seed: int) -> torch.Tensor:
    return _road(e, seed)[1].mean(1)


@metric("road_combined", "faithfulness", "higher", options=ROAD)
def _road_combined(e: Explained, seed: int) -> torch.Tensor:
    morf, lerf = _road(e, seed)
    return (lerf - morf).mean(1) / 2
