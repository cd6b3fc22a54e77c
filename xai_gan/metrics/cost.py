"""Cost: what an explanation takes, in milliseconds per image (timed by :func:`evaluate`, after
one untimed warm-up call per method and batch shape, so that one-off set-up, CPU kernels
prepared for a new input shape included, is not charged to the first batch)."""
from __future__ import annotations

import time

import torch

from .registry import Explained, metric


def ms_per_image(explain, model, images: torch.Tensor, targets=None) -> float:
    """Milliseconds per image of ``explain(model, images, targets)``, timed on a second call
    (the first, untimed, pays the one-off set-up), as :func:`evaluate` times every method."""
    explain(model, images, targets)
    if images.is_cuda:
        torch.cuda.synchronize(images.device)
    tic = time.perf_counter()
    explain(model, images, targets)
    if images.is_cuda:
        torch.cuda.synchronize(images.device)
    return 1000 * (time.perf_counter() - tic) / len(images)


@metric("ms_per_image", "cost", "lower")
def _ms_per_image(e: Explained) -> torch.Tensor:
    return torch.full((len(e.images),), 1000 * e.seconds / len(e.images))
