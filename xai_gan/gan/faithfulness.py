"""The faithfulness objective: what the insertion (and deletion) metrics score, made
differentiable and learned once.

For each fraction ``f``, the map's top ``f`` of pixels (a soft mask: a sigmoid around the
map's own ``1 - f`` quantile) is kept alone on a blurred copy of the image (the class
probability should stay) and, with ``deletion_weight``, deleted from the image (replaced by
the blurred copy: it should fall). Averaged over fractions, that is the insertion curve
(minus the weighted deletion curve), sampled. The region sizes are fixed by the fractions,
so no area penalty is needed: the map can only win by ordering pixels as the frozen CNN uses
them. The deletion term is off by default: beside the insertion term it scored no better
on any faithfulness metric (``benchmarks/gan_worth.py``, docs/gan-worth.md) and doubles the CNN
passes.
"""
from __future__ import annotations

import torch
from torch import nn

from ..maps import gaussian_blur, resize

FRACTIONS = (0.1, 0.3, 0.5)


def faithfulness_loss(classifier: nn.Module, images: torch.Tensor, heat: torch.Tensor,
                      classes: torch.Tensor, fractions=FRACTIONS, temperature: float = 0.5,
                      saturation_weight: float = 0.05, sigma: float | None = None,
                      input_size: int | None = None, deletion_weight: float = 0.0,
                      straight_through: bool = False) -> torch.Tensor:
    """``mean over f of deletion_weight * p(delete top f) - p(keep top f)``, p the class
    probability: in [-1, deletion_weight], lower is better (``deletion_weight=1``: the
    deletion minus insertion gap).

    ``heat`` is (B, 1, H, W) in [0, 1]; ``classes`` the classes to explain (the CNN's
    predictions). ``input_size`` is the side the classifier runs at, where it differs from
    the images' (stores hold images at the map size); images and map are resized to it.
    ``temperature`` is the soft mask's width, in standard deviations of each map.
    ``saturation_weight`` scales :func:`saturation_barrier` (0: the probabilities alone, what
    the metrics score). ``straight_through``: the CNN sees each fraction's top pixels as a
    hard mask (the metrics' ranks, but ties at the threshold are all kept), the gradient is
    the soft mask's. The classifier should be frozen and in eval mode; gradients reach
    ``heat`` through it.
    """
    if input_size is not None:
        images, heat = resize(images, input_size), resize(heat, input_size)
    blurred = gaussian_blur(images, sigma if sigma is not None else images.shape[-1] / 8)
    flat = heat.flatten(1).float()
    thresholds = torch.quantile(flat.detach(), torch.tensor([1 - f for f in fractions],
                                                            device=heat.device), dim=1)
    # the width follows each map's spread: only the order of the pixels counts
    width = temperature * flat.std(1).detach().clamp_min(1e-4)[:, None, None, None]
    above = heat.float()[None] - thresholds[..., None, None, None]
    top = torch.sigmoid(above / width)  # (F, B, 1, H, W): ~1 on each fraction's top pixels
    if straight_through:
        top = (above >= 0).float() + top - top.detach()
    variants = [images * top + blurred * (1 - top)]  # kept
    if deletion_weight:
        variants.append(images * (1 - top) + blurred * top)
    batch = torch.cat(variants).flatten(0, 1)
    probs = classifier(batch).float().softmax(1)
    p = probs.gather(1, classes.repeat(len(variants) * len(fractions))[:, None])[:, 0]
    p = p.view(len(variants), -1).mean(1)  # kept, then deleted
    loss = deletion_weight * p[1] - p[0] if deletion_weight else -p[0]
    return loss + saturation_weight * saturation_barrier(heat) if saturation_weight else loss


def saturation_barrier(heat: torch.Tensor) -> torch.Tensor:
    """``mean(-log h - log(1 - h))``, a barrier on the generator's logits: without it the
    sigmoid saturates into a flat map that no gradient leaves. A training term only:
    validation reports it apart from the probabilities."""
    h = heat.float().clamp(1e-6, 1 - 1e-6)
    return -(h.log() + (1 - h).log()).mean()
