"""Similarity to the teacher's map (the explainer the GAN learns from): SSIM, MAE and Pearson,
per image. The comparisons themselves live in :mod:`xai_gan.maps`, shared with the GAN's
validation and the studies."""
from __future__ import annotations

import torch

from ..maps import mae, pearson, ssim
from .registry import Explained, metric


@metric("ssim", "similarity", "higher", "teacher_map")
def _ssim(e: Explained) -> torch.Tensor:
    return ssim(e.maps, e.teacher_maps)


@metric("mae", "similarity", "lower", "teacher_map")
def _mae(e: Explained) -> torch.Tensor:
    return mae(e.maps, e.teacher_maps)


@metric("pearson", "similarity", "higher", "teacher_map")
def _pearson(e: Explained) -> torch.Tensor:
    return pearson(e.maps, e.teacher_maps)
