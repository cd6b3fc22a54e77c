"""The metric registry: ``@metric(name, category, better, needs, options)`` over a function of
one :class:`Explained` batch, like the explainers' ``@register``. Adding a metric touches one
file: the category's module, where the function, its registration and its settings (with
their defaults) live side by side."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

import torch

# the order tables and reports list categories in
CATEGORIES = ("faithfulness", "localisation", "complexity", "robustness", "randomisation",
              "similarity", "cost")
NEEDS = (None, "masks", "teacher_map")


@dataclass
class Explained:
    """One batch explained by one method: everything a metric may read but its settings.

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
    first_image: int = 0  # index of the batch's first image in the evaluated set
    _memo: dict = field(default_factory=dict, repr=False)

    def once(self, key: str, compute: Callable):
        """``compute()`` the first time ``key`` is asked for in this batch (metrics that share
        one computation, like average drop and increase in confidence)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


class Options:
    """The settings of one metric, or of a group of metrics that share one computation, with
    their defaults: ``Options(steps=64, baseline="blur")``.

    Pass one object to every member's :func:`metric`: the group then has one set of values,
    and settings given for any member (in :func:`xai_gan.metrics.evaluate`'s ``options``)
    apply to all of them.
    """

    def __init__(self, **defaults: Any):
        self.defaults = MappingProxyType(defaults)

    def __repr__(self) -> str:
        return f"Options({', '.join(f'{k}={v!r}' for k, v in self.defaults.items())})"


@dataclass(frozen=True)
class Metric:
    name: str
    category: str
    better: str  # "higher" or "lower"
    needs: str | None
    score: Callable[..., torch.Tensor]  # (explained, **options) -> (B,), NaN where undefined
    options: Options  # shared (the same object) by the metrics of one computation


METRICS: dict[str, Metric] = {}


def metric(name: str, category: str, better: str, needs: str | None = None,
           options: Mapping[str, Any] | Options | None = None):
    """Decorator: register ``score(explained, **options) -> (B,) tensor`` as metric ``name``.

    ``options`` are the metric's settings and their defaults, as a mapping of its own or as
    an :class:`Options` object shared with the metrics it computes together with; ``score``
    receives their values as keyword arguments.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; choose from {CATEGORIES}")
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    if needs not in NEEDS:
        raise ValueError(f"needs must be one of {NEEDS}, got {needs!r}")
    if not isinstance(options, Options):
        options = Options(**(options or {}))

    def decorate(score):
        if name in METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        METRICS[name] = Metric(name, category, better, needs, score, options)
        return score
    return decorate


def available() -> list[str]:
    """Every registered metric, by category (in :data:`CATEGORIES` order), then as registered."""
    order = {name: i for i, name in enumerate(METRICS)}
    return sorted(METRICS, key=lambda m: (CATEGORIES.index(METRICS[m].category), order[m]))


def group(name: str) -> list[str]:
    """The metrics that share metric ``name``'s settings (itself included), as registered."""
    return [other for other, m in METRICS.items() if m.options is METRICS[name].options]


def resolve(options: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict]:
    """Every registered metric's settings: its defaults, overridden by ``options``
    (``{metric: {setting: value}}``) given for it or for any metric of its :func:`group`.

    Raises
    ------
    ValueError
        For a metric or a setting that is not registered (naming the valid ones), and where
        two metrics of one group are given different values of one setting.
    """
    given: dict[Options, dict[str, tuple[Any, str]]] = {}  # value, and the metric it came with
    for name, settings in (options or {}).items():
        if name not in METRICS:
            raise ValueError(f"options for unknown metric {name!r}; choose from {available()}")
        shared = METRICS[name].options
        for key, value in settings.items():
            if key not in shared.defaults:
                raise ValueError(f"unknown option {key!r} of metric {name!r}; its options: "
                                 f"{sorted(shared.defaults) or 'none'}")
            earlier, source = given.setdefault(shared, {}).get(key, (value, name))
            if earlier != value:  # one computation cannot run with both
                raise ValueError(f"{source!r} and {name!r} share one computation ({group(name)})"
                                 f" but were given different {key!r}: {earlier!r}, {value!r}")
            given[shared][key] = (value, source)
    return {name: {**m.options.defaults,
                   **{key: value for key, (value, _) in given.get(m.options, {}).items()}}
            for name, m in METRICS.items()}


def for_every(option: str, value: Any) -> dict[str, dict[str, Any]]:
    """``{metric: {option: value}}`` for every registered metric that has setting ``option``
    (``for_every("seed", 1)``), for :func:`xai_gan.metrics.evaluate`'s ``options``."""
    return {name: {option: value} for name, m in METRICS.items() if option in m.options.defaults}
