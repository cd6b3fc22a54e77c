"""Cost: what an explanation takes, in milliseconds per image (timed by :func:`evaluate`)."""
from __future__ import annotations

import torch

from .registry import Explained, metric


@metric("ms_per_image", "cost", "lower")
def _ms_per_image(e: Explained) -> torch.Tensor:
    return torch.full((len(e.images),), 1000 * e.seconds / len(e.images))
