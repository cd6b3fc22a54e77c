"""The faithfulness objective: what the deletion and insertion metrics score, made
differentiable and learned once.

For each fraction ``f``, the map's top ``f`` of pixels (a soft mask: a sigmoid around the
map's own ``1 - f`` quantile) is deleted from the image (replaced by a blurred copy: the
class probability should fall) or kept alone on the blurred copy (it should stay). Averaged
over fractions, that is the deletion curve minus the insertion curve, sampled. The region
sizes are fixed by the fractions, so no area penalty is needed: the map can only win by
ordering pixels as the frozen CNN uses them.
"""
from __future__ import annotations

import torch
from torch import nn

from ..maps import gaussian_blur, resize

FRACTIONS = (0.1, 0.3, 0.5)


def faithfulness_loss(classifier: nn.Module, images: torch.Tensor, heat: torch.Tensor,
                      classes: torch.Tensor, fractions=FRACTIONS, temperature: float = 0.5,
                      saturation_weight: float = 0.05, sigma: float | None = None,
                      input_size: int | None = None) -> torch.Tensor:
    """``mean over f of p(delete top f) - p(keep top f)``, p the class probability: in
    [-1, 1], lower is better.

    ``heat`` is (B, 1, H, W) in [0, 1]; ``classes`` the classes to explain (the CNN's
    predictions). ``input_size`` is the side the classifier runs at, where it differs from
    the images' (stores hold images at the map size); images and map are resized to it.
    ``temperature`` is the soft mask's width, in standard deviations of each map.
    ``saturation_weight`` scales :func:`saturation_barrier` (0: the deletion minus insertion
    gap alone, what the metrics score). The classifier should be frozen and in eval mode;
    gradients reach ``heat`` through it.
    """
    if input_size is not None:
        images, heat = resize(images, input_size), resize(heat, input_size)
    blurred = gaussian_blur(images, sigma if sigma is not None else images.shape[-1] / 8)
    flat = heat.flatten(1).float()
    thresholds = torch.quantile(flat.detach(), torch.tensor([1 - f for f in fractions],
                                                            device=heat.device), dim=1)
    # the width follows each map's spread: only the order of the pixels counts
    width = temperature * flat.std(1).detach().clamp_min(1e-4)[:, None, None, None]
    top = torch.sigmoid((heat.float()[None] - thresholds[..., None, None, None])
                        / width)  # (F, B, 1, H, W): ~1 on each fraction's top pixels
    deleted = images * (1 - top) + blurred * top
    kept = images * top + blurred * (1 - top)
    batch = torch.cat([deleted, kept]).flatten(0, 1)
    probs = classifier(batch).float().softmax(1)
    p = probs.gather(1, classes.repeat(2 * len(fractions))[:, None])[:, 0]
    p_deleted, p_kept = p.view(2, len(fractions), -1)
    gap = (p_deleted - p_kept).mean()
    return gap + saturation_weight * saturation_barrier(heat) if saturation_weight else gap


def saturation_barrier(heat: torch.Tensor) -> torch.Tensor:
    """``mean(-log h - log(1 - h))``, a barrier on the generator's logits: without it the
    sigmoid saturates into a flat map that no gradient leaves. A training term only:
    validation reports it apart from the gap."""
    h = heat.float().clamp(1e-6, 1 - 1e-6)
    return -(h.log() + (1 - h).log()).mean()
