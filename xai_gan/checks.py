"""Input checks shared by training, the representation and the explainers."""
from __future__ import annotations

import torch


def check_images(images: torch.Tensor, in_channels: int | None = None) -> None:
    """Raise ``ValueError`` unless ``images`` is a finite (B, C, H, W) batch."""
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    if in_channels is not None and images.shape[1] != in_channels:
        raise ValueError(f"model expects {in_channels} channels, images have {images.shape[1]}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or infinite values")


def as_targets(targets, batch_size: int, device) -> torch.Tensor:
    """Class indices as a (B,) long tensor; a single int applies to every image."""
    targets = torch.as_tensor(targets, device=device).long().reshape(-1)
    if targets.numel() == 1:
        targets = targets.expand(batch_size)
    if len(targets) != batch_size:
        raise ValueError(f"{len(targets)} targets for {batch_size} images")
    return targets
