"""Similarity to the teacher's map (the explainer the GAN learns from): SSIM, MAE and Pearson,
per image. The comparisons themselves live in :mod:`xai_gan.maps`, shared with the GAN's
validation and the studies."""
from __future__ import annotations

from ..maps import mae, pearson, ssim
from .registry import metric


for _name, _score, _better in (("ssim", ssim, "higher"), ("mae", mae, "lower"),
                               ("pearson", pearson, "higher")):
    metric(_name, "similarity", _better, "teacher_map")(
        lambda e, score=_score: score(e.maps, e.teacher_maps))
