"""Robustness: a map should not swing under input noise the model barely notices."""
from __future__ import annotations

from typing import Callable

import torch

from ..devices import follows_model
from .registry import Explained, metric


@follows_model
def max_sensitivity(explain: Callable, model, images: torch.Tensor, targets: torch.Tensor,
                    maps: torch.Tensor | None = None, radius: float = 0.02, samples: int = 10,
                    seed: int = 0, noise: torch.Tensor | None = None) -> torch.Tensor:
    """Largest relative change of the map under uniform input noise (Yeh et al., 2019).

    For each of ``samples`` draws of noise in ``[-radius, radius]``, the map of the noisy
    image is compared with the original one: ``||e(x + d) - e(x)||_F / ||e(x)||_F``; the
    maximum over draws is returned per image (lower is better). Like Quantus' MaxSensitivity
    with its defaults, draws are kept even where the prediction changes. ``noise`` (shape
    (samples, B, C, H, W)) replaces the random draws, e.g. to compare two implementations.
    An all-zero original map gives NaN (a relative change is undefined). Costs ``samples``
    explanations per image.
    """
    if maps is None:
        maps = explain(model, images, targets)
    if noise is None:
        generator = torch.Generator().manual_seed(seed)
        noise = (torch.rand((samples, *images.shape), generator=generator) * 2 - 1) * radius
    reference = maps.flatten(1).double()
    worst = torch.full((len(images),), -torch.inf, dtype=torch.float64)
    for delta in noise.to(images.device):
        moved = explain(model, images + delta, targets).flatten(1).double()
        change = (moved - reference).norm(dim=1) / reference.norm(dim=1).clamp_min(1e-12)
        worst = torch.maximum(worst, change.cpu())
    empty = reference.norm(dim=1).cpu() == 0  # no map to compare with: undefined
    return torch.where(empty, torch.nan, worst).float().to(images.device)


@metric("max_sensitivity", "robustness", "lower",
        options={"samples": 5, "radius": 0.02, "seed": 0})
def _max_sensitivity(e: Explained, samples: int, radius: float, seed: int) -> torch.Tensor:
    return max_sensitivity(e.explainer, e.model, e.images, e.classes, e.maps, radius=radius,
                           samples=samples, seed=seed + e.first_image)
