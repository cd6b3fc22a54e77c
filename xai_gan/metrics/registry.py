"""The metric registry: ``@metric(name, category, better, needs)`` over a function of one
:class:`Explained` batch, like the explainers' ``@register``. Adding a metric touches one file:
the category's module, where the function and its registration live side by side."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

# the order tables and reports list categories in
CATEGORIES = ("faithfulness", "localisation", "complexity", "robustness", "randomisation",
              "similarity", "cost")
NEEDS = (None, "masks", "teacher_map")


@dataclass
class Explained:
    """One batch explained by one method: everything a metric may read.

    ``masks`` (ground truth) and ``teacher_maps`` (the teacher's maps of the same classes)
    are None when the data or the call have none; ``seconds`` is what the explanation took.
    """

    model: torch.nn.Module
    explainer: Callable
    images: torch.Tensor
    classes: torch.Tensor
    maps: torch.Tensor
    seconds: float
    masks: torch.Tensor | None = None
    teacher_maps: torch.Tensor | None = None
    steps: int = 64
    baseline: str = "blur"
    samples: int = 5
    radius: float = 0.02
    seed: int = 0
    temperature: float = 1.0  # of the confidence metrics' softmax
    first_image: int = 0  # index of the batch's first image in the evaluated set
    _memo: dict = field(default_factory=dict, repr=False)

    def once(self, key: str, compute: Callable):
        """``compute()`` the first time ``key`` is asked for in this batch (metrics that share
        one computation, like average drop and increase in confidence)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


@dataclass(frozen=True)
class Metric:
    name: str
    category: str
    better: str  # "higher" or "lower"
    needs: str | None
    score: Callable[[Explained], torch.Tensor]  # (B,) values, NaN where undefined


METRICS: dict[str, Metric] = {}


def metric(name: str, category: str, better: str, needs: str | None = None):
    """Decorator: register ``score(explained) -> (B,) tensor`` as metric ``name``."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; choose from {CATEGORIES}")
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    if needs not in NEEDS:
        raise ValueError(f"needs must be one of {NEEDS}, got {needs!r}")

    def decorate(score):
        if name in METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        METRICS[name] = Metric(name, category, better, needs, score)
        return score
    return decorate


def available() -> list[str]:
    """Every registered metric, by category (in :data:`CATEGORIES` order), then as registered."""
    order = {name: i for i, name in enumerate(METRICS)}
    return sorted(METRICS, key=lambda m: (CATEGORIES.index(METRICS[m].category), order[m]))
