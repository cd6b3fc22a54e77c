"""The optional faithfulness term: Guided Feature Inversion's objective, learned once.

Through the frozen classifier, the generated map used as a soft mask must keep the class
(``image * m + blurred * (1 - m)``), its complement must lose it, and the mask must stay small.
"""
from __future__ import annotations

import torch
from torch import nn

from ..maps import gaussian_blur


def faithfulness_loss(classifier: nn.Module, images: torch.Tensor, heat: torch.Tensor,
                      classes: torch.Tensor, area_weight: float = 1.0,
                      sigma: float | None = None) -> torch.Tensor:
    """``(1 - p(keep)) + p(remove) + area_weight * mean(m)``, p the class probability.

    ``heat`` is (B, 1, H, W) in [0, 1]; ``classes`` the classes to keep (the CNN's predictions).
    The classifier should be frozen and in eval mode; gradients reach ``heat`` through it.
    """
    blurred = gaussian_blur(images, sigma if sigma is not None else images.shape[-1] / 8)
    keep = images * heat + blurred * (1 - heat)
    remove = images * (1 - heat) + blurred * heat
    probs = classifier(torch.cat([keep, remove])).float().softmax(1)
    p = probs.gather(1, classes.repeat(2)[:, None])[:, 0]
    p_keep, p_remove = p.chunk(2)
    return (1 - p_keep).mean() + p_remove.mean() + area_weight * heat.float().mean()
