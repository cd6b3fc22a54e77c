"""Watching for a collapsed generator: one that draws nearly the same map for every image, or
maps no closer to the teacher's than a map that ignores the image.

Each validation records the signs (:func:`signs`) in the run's history. A generator that draws
one map for every image for :data:`PATIENCE` validations in a row stops training (a saturated
generator does not recover); one that ends training, stopped or not, without a single sound
epoch raises :class:`GeneratorCollapsed`: a constant map is an error, not an explanation.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..io import save_json
from ..maps import mae, pearson

# a generator whose maps vary across images by less than this fraction of the teacher's
# maps' variation draws one map for all of them
SPREAD_FLOOR = 0.05
# a teacher whose average map already correlates this well with its maps hardly depends on
# the image (an untrained CNN's Grad-CAM): no map can then beat the average by much
AVERAGE_CEILING = 0.9
# validations in a row with one map for every image before the run stops (a saturated
# generator does not recover: the gradient that would move it has vanished); maps merely no
# better than the average may still improve, and are judged at the end
PATIENCE = 3
# in a run folder: what collapsed and why, so that evaluation and reports say so
MARKER = "collapsed.json"


class GeneratorCollapsed(RuntimeError):
    """A generator learned a map that ignores its input; the message says what and what to
    try."""


def _standardised(maps: torch.Tensor) -> torch.Tensor:
    """Each map to zero mean and unit spread, so that only its pattern counts (the explainers
    rescale every map); a flat map (spread under 1e-6) becomes all 0."""
    flat = maps.flatten(1)
    std = flat.std(1, keepdim=True)
    centred = (flat - flat.mean(1, keepdim=True)) / std.clamp_min(1e-6)
    return torch.where(std > 1e-6, centred, 0.0)


def average_maps(store, most: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-pixel median and mean of a store's teacher maps (of at most ``most`` items,
    evenly spaced): the best maps that ignore the image, under L1 and on average."""
    rows = range(0, len(store), max(1, len(store) // most))
    maps = torch.stack([store[i]["teacher_map"] for i in rows]).float()
    return maps.median(0).values, maps.mean(0)


def signs(heat: torch.Tensor, teacher_map: torch.Tensor, average: tuple | None = None) -> dict:
    """The collapse diagnostics of generated maps ``heat`` against ``teacher_map``, both (N, H,
    W) over the validation images: ``val_spread``, the per-pixel spread (standard deviation)
    across images of the generated maps as a fraction of the teacher maps', each map
    standardised first (a map drawn alike for every image, or flat, has none; 1 where the
    teacher's own maps are all alike, or there is one image); ``val_trivial_l1`` and
    ``val_trivial_pearson``, the L1 of the median map and the Pearson of the mean map
    ``average`` (:func:`average_maps` of the training store; default: of these maps; 1 where
    the teacher's maps are all alike)."""
    heat, teacher_map = heat.float(), teacher_map.float()
    teacher_spread = (_standardised(teacher_map).std(0).mean().item()
                      if len(teacher_map) > 1 else 0.0)
    spread = (_standardised(heat).std(0).mean().item() / teacher_spread
              if teacher_spread > 1e-6 else 1.0)
    median, mean = average if average is not None else (teacher_map.median(0).values,
                                                        teacher_map.mean(0))
    # teacher maps all alike are their own average (Pearson 1, not undefined)
    trivial_pearson = (pearson(mean.expand_as(teacher_map), teacher_map).nanmean().item()
                       if teacher_spread > 1e-6 else 1.0)
    return {"val_spread": spread,
            "val_trivial_l1": mae(median.expand_as(teacher_map), teacher_map).mean().item(),
            "val_trivial_pearson": trivial_pearson}


def is_collapsed(row: dict, uses_teacher: bool = True) -> bool:
    """Whether a validation ``row`` (:func:`signs` and ``val_l1``, ``val_pearson``) shows a
    collapse: maps alike across images, or (for a generator trained on a teacher whose maps
    depend on the image: its average map's Pearson under :data:`AVERAGE_CEILING`) maps no
    better than the teacher's average on L1 and on Pearson both."""
    if row["val_spread"] < SPREAD_FLOOR:
        return True
    trivial = (row["val_l1"] >= row["val_trivial_l1"]
               and not row["val_pearson"] > row["val_trivial_pearson"])  # NaN: constant maps
    return uses_teacher and trivial and not row["val_trivial_pearson"] >= AVERAGE_CEILING


def stuck(history: list[dict]) -> bool:
    """Whether the last :data:`PATIENCE` validations all drew one map for every image."""
    recent = history[-PATIENCE:]
    return len(recent) == PATIENCE and all(row.get("val_spread", 1.0) < SPREAD_FLOOR
                                           for row in recent)


def describe(row: dict, where, recipe: str, uses_teacher: bool = True) -> str:
    """The error message: what collapsed, its signs with their numbers, what to try."""
    found = []
    if row["val_spread"] < SPREAD_FLOOR:
        found.append(f"its maps barely differ between images (spread across images "
                     f"{row['val_spread']:.3g} of the teacher's, under {SPREAD_FLOOR})")
    if uses_teacher and row["val_l1"] >= row["val_trivial_l1"]:
        found.append(f"its maps are no closer to the teacher's than the teacher's average map "
                     f"over the training images "
                     f"(L1 {row['val_l1']:.4f} against {row['val_trivial_l1']:.4f}, Pearson "
                     f"{row['val_pearson']:.3f} against {row['val_trivial_pearson']:.3f})")
    hint = ("the paper recipe's L1 term on the sigmoid saturates on teachers whose maps are "
            "mostly near 0: train with the cross-entropy recipe (recipe='cross-entropy', "
            "--recipe cross-entropy)" if recipe == "paper" else
            "check that the teacher's maps are not empty or constant, then try another seed, "
            "a lower learning rate or the correlation term (correlation_weight=1, "
            "--correlation-weight 1)")
    return (f"the generator in {where} collapsed: at epoch {row['epoch']} "
            + "; ".join(found or ["it never drew a sound map"])
            + f". No best.pt was written. What to try: {hint}.")


def record(out_dir: Path, message: str | None) -> None:
    """Write ``message`` as the folder's collapse record (atomic), or remove an old one when
    ``message`` is None (the folder's generator trained soundly)."""
    path = Path(out_dir) / MARKER
    if message is not None:
        save_json({"message": message}, path)
    elif path.exists():
        path.unlink()


def recorded(out_dir: Path) -> str | None:
    """The collapse message recorded in a generator's folder, if any (there is then no
    ``best.pt``: a sound run removes the record)."""
    path = Path(out_dir) / MARKER
    return json.loads(path.read_text())["message"] if path.exists() else None
