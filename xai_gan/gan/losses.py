"""Adversarial losses by name, on discriminator logits; the correlation loss to a teacher."""
from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("bce", "lsgan", "hinge")


class GANLoss:
    """``loss(logits, real, for_discriminator)``: ``bce`` (BCE with logits), ``lsgan`` (least
    squares) or ``hinge``. For the generator, ``real`` is True (it wants fakes judged real)."""

    def __init__(self, mode: str = "bce"):
        if mode not in LOSSES:
            raise ValueError(f"unknown GAN loss {mode!r}; choose from {LOSSES}")
        self.mode = mode

    def __call__(self, logits: torch.Tensor, real: bool, for_discriminator: bool = True
                 ) -> torch.Tensor:
        logits = logits.float()
        if self.mode == "bce":
            target = torch.full_like(logits, 1.0 if real else 0.0)
            return F.binary_cross_entropy_with_logits(logits, target)
        if self.mode == "lsgan":
            return ((logits - (1.0 if real else 0.0)) ** 2).mean()
        if not for_discriminator:  # hinge, generator step
            return -logits.mean()
        return F.relu(1 - logits).mean() if real else F.relu(1 + logits).mean()


def correlation_loss(fake: torch.Tensor, target: torch.Tensor, eps: float = 1e-6
                     ) -> torch.Tensor:
    """Mean of ``1 - Pearson`` between each generated map and its target, the score the
    distillation benchmark reports (L1 alone does not order the pixels); a constant target
    counts as uncorrelated and passes no gradient (``maps.pearson`` gives NaN there, whose
    gradient would reach the weights)."""
    fake, target = fake.flatten(1).float(), target.flatten(1).float()
    fake = fake - fake.mean(1, keepdim=True)
    target = target - target.mean(1, keepdim=True)
    corr = (fake * target).sum(1) / (fake.norm(dim=1) * target.norm(dim=1) + eps)
    return (1 - corr).mean()


def set_requires_grad(module: torch.nn.Module, flag: bool) -> None:
    """Freeze or unfreeze every parameter (the discriminator, during the generator's step)."""
    for p in module.parameters():
        p.requires_grad_(flag)
