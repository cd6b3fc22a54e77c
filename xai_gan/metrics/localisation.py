"""Localisation: does the map point at the object? Needs ground-truth masks (B, H, W)."""
from __future__ import annotations

import torch
from .registry import metric


def _check(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    if maps.shape != masks.shape:
        raise ValueError(f"maps {tuple(maps.shape)} and masks {tuple(masks.shape)} differ in shape")
    return masks > 0.5


def pointing_game(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The pointing game (Zhang et al., ECCV 2016): 1 when a pixel of the map's maximum lies
    inside the object, else 0 (NaN: empty mask).

    Ties count as a hit if any of the maximal pixels is inside, as in Quantus' PointingGame.
    """
    inside = _check(maps, masks).flatten(1)
    flat = maps.flatten(1)
    hit = (inside & (flat == flat.amax(1, keepdim=True))).any(1).float()
    return torch.where(inside.any(1), hit, torch.nan)


def energy_pointing_game(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of the map's energy inside the object (the energy-based pointing game of
    Score-CAM, Wang et al., CVPRW 2020; Quantus' RelevanceMassAccuracy). An all-zero map
    scores 0; an empty mask gives NaN."""
    inside = _check(maps, masks)
    energy = (maps * inside).sum((1, 2)) / maps.sum((1, 2)).clamp_min(1e-12)
    return torch.where(inside.flatten(1).any(1), energy, torch.nan)


def iou(maps: torch.Tensor, masks: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Intersection over union of the map thresholded at ``threshold`` x its maximum and the
    object mask."""
    inside = _check(maps, masks)
    peak = maps.amax((1, 2), keepdim=True)
    region = (maps >= threshold * peak) & (peak > 0)
    union = (region | inside).sum((1, 2))
    return (region & inside).sum((1, 2)) / union.clamp_min(1)


for _name, _score in (("pointing_game", pointing_game),
                     ("energy_pointing_game", energy_pointing_game), ("iou", iou)):
    metric(_name, "localisation", "higher", "masks")(
        lambda e, score=_score: score(e.maps, e.masks))
