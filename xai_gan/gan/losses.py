"""Adversarial losses by name, on discriminator logits; the distillation term of each recipe
and the correlation loss to a teacher."""
from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("bce", "lsgan", "hinge")


def _l1(logits: torch.Tensor, heat: torch.Tensor, teacher_map: torch.Tensor) -> torch.Tensor:
    return (heat - teacher_map).abs().mean()


def _cross_entropy(logits: torch.Tensor, heat: torch.Tensor, teacher_map: torch.Tensor
                   ) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, teacher_map)


# The distillation term of each training recipe, on the generator's logits. ``paper``: L1 to
# the teacher map on the sigmoid output (the published recipe). Its gradient is the sign of
# the error times the sigmoid's slope: where most of a sparse teacher's pixels are ~0, the
# sign says "lower" on most pixels, Adam moves every weight at its full step in that one
# direction, the logits run off below -10 within an epoch, the slope vanishes and the
# generator is stuck drawing a constant. ``cross-entropy``: per-pixel cross-entropy to the
# teacher map as a soft label, on the logits: its gradient, sigmoid(logit) - teacher, is
# zero at the teacher's value and does not vanish on a saturated wrong pixel.
RECIPES = {"cross-entropy": _cross_entropy, "paper": _l1}


def distillation_loss(logits: torch.Tensor, teacher_map: torch.Tensor,
                      recipe: str = "cross-entropy", heat: torch.Tensor | None = None
                      ) -> torch.Tensor:
    """The ``recipe``'s distillation term (:data:`RECIPES`) between a generator's logits and
    the teacher's maps in [0, 1], both (B, 1, H, W). ``heat``: the logits' sigmoid where the
    caller has it (the paper's term then shares its gradient path with the other terms')."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {list(RECIPES)}")
    logits = logits.float()
    heat = torch.sigmoid(logits) if heat is None else heat.float()
    return RECIPES[recipe](logits, heat, teacher_map.float())


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
