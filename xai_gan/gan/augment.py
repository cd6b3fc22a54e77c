"""Paired augmentation: one random symmetry of the square per item, applied alike to its
image, its condition maps and its teacher map, so that the three still belong together.

``flip`` mirrors left-right (every class of natural photos survives it); ``dihedral`` draws
from all eight symmetries of the square (flips and quarter turns: for data whose classes
survive them, like the shapes, not digits).
"""
from __future__ import annotations

import torch

AUGMENTATIONS = ("none", "flip", "dihedral")


def _mirror(t):
    return t.flip(-1)


def _upside_down(t):
    return t.flip(-2)


def _transpose(t):
    return t.transpose(-1, -2)


_SYMMETRIES = {"none": (), "flip": (_mirror,), "dihedral": (_mirror, _upside_down, _transpose)}


def augment(tensors: list[torch.Tensor], kind: str) -> list[torch.Tensor]:
    """``tensors`` (each ``(N, C, H, W)``, square, the same ``N``) with item ``i`` of every
    tensor transformed by the same symmetry; drawn from the global RNG, which the trainer
    seeds per epoch."""
    if kind not in _SYMMETRIES:
        raise ValueError(f"unknown augmentation {kind!r}; choose from {AUGMENTATIONS}")
    operations = _SYMMETRIES[kind]
    if not operations:
        return tensors
    draws = torch.rand(len(tensors[0]), len(operations)) < 0.5
    out = []
    for t in tensors:
        for i, operation in enumerate(operations):
            chosen = draws[:, i].to(t.device).view(-1, 1, 1, 1)
            t = torch.where(chosen, operation(t), t)
        out.append(t)
    return out
