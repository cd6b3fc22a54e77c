"""Adversarial losses by name, on discriminator logits."""
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


def set_requires_grad(module: torch.nn.Module, flag: bool) -> None:
    """Freeze or unfreeze every parameter (the discriminator, during the generator's step)."""
    for p in module.parameters():
        p.requires_grad_(flag)
