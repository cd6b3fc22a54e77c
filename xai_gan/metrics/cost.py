"""Cost: what an explanation takes, in milliseconds per image (timed by :func:`evaluate`, after
one untimed warm-up call per method and batch shape, so that one-off set-up, CPU kernels
prepared for a new input shape included, is not charged to the first batch)."""
from __future__ import annotations

import torch

from .registry import Explained, metric


@metric("ms_per_image", "cost", "lower")
def _ms_per_image(e: Explained) -> torch.Tensor:
    return torch.full((len(e.images),), 1000 * e.seconds / len(e.images))
