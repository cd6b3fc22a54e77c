"""Every explainer x every metric on one model and dataset, as a tidy table."""
from __future__ import annotations

import time
from typing import Callable

import pandas as pd
import torch
from torch.utils.data import default_collate

from .. import explainers as explainer_registry
from ..devices import place
from ..progress import progress_bar
from ..scoped import eval_mode
from .registry import METRICS, Explained, available, resolve


def _explainers(explainers) -> dict[str, Callable]:
    if isinstance(explainers, str):
        explainers = [explainers]
    if not isinstance(explainers, dict):
        explainers = {name: explainer_registry.get(name) for name in explainers}
    return explainers


def _metric_names(metrics, has_masks: bool, has_teacher: bool) -> list[str]:
    usable = {None, "masks" if has_masks else None, "teacher_map" if has_teacher else None}
    if metrics == "all":
        return [m for m in available() if METRICS[m].needs in usable]
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; choose from {available()}")
        if METRICS[m].needs not in usable:
            raise ValueError(f"metric {m!r} needs "
                             + ("ground-truth masks and the dataset has none"
                                if METRICS[m].needs == "masks"
                                else "the teacher's map: pass teacher="))
    return metrics


def _batches(model, dataset, n: int, batch_size: int, classes: str, device):
    """``(first index, images, classes explained, masks or None)`` per batch of the first
    ``n`` items of ``dataset``."""
    for start in range(0, n, batch_size):
        batch = default_collate([dataset[i] for i in range(start, min(start + batch_size, n))])
        images = batch["image"].to(device)
        with torch.no_grad():
            explained = (model(images).argmax(1) if classes == "predicted"
                         else batch["label"].to(device))
        yield start, images, explained, batch["mask"].to(device) if "mask" in batch else None


def _explain(model, explain: Callable, images, classes, warm: bool) -> tuple[torch.Tensor, float]:
    """The maps and the seconds they took. ``warm``: explain once untimed first, since one-off
    set-up (hooks, lazy init, CPU kernels prepared per input shape) is no cost."""
    if warm:
        explain(model, images, classes)
    tic = time.perf_counter()
    maps = explain(model, images, classes)
    return maps, time.perf_counter() - tic


def _score(explained: Explained, method: str, names: list[str], settings: dict) -> list[tuple]:
    """The table's rows of one explained batch: each metric of ``names`` on each image."""
    rows = []
    for name in names:
        scored = METRICS[name]
        values = scored.score(explained, **settings[name]).cpu().tolist()
        rows += [(method, name, scored.category, explained.first_image + i, value, scored.better)
                 for i, value in enumerate(values)]
    return rows


def evaluate(model, dataset, explainers, metrics="all", n: int | None = None,
             batch_size: int = 16, classes: str = "predicted", teacher=None, device=None,
             options: dict[str, dict] | None = None, progress: bool = True) -> pd.DataFrame:
    """Score explainers on the first ``n`` images of ``dataset``.

    Images are explained and scored where the model is (or on ``device``, where the model
    is moved); the table holds plain numbers.

    Parameters
    ----------
    model : the classifier to explain (eval mode for the call).
    dataset : a Dataset of dicts with ``image``, ``label`` and optionally ``mask``.
    explainers : ``{name: explainer}`` or a list of registered names.
    metrics : ``"all"`` (every metric the data allow) or a list of names from
        :func:`xai_gan.metrics.available`.
    classes : which class each map explains: ``"predicted"`` (the model's) or ``"label"``
        (the true one).
    teacher : explainer (name or callable) whose maps the similarity metrics compare with.
    options : ``{metric: {setting: value}}`` over the defaults each metric declares
        (``METRICS[name].options``), e.g. ``{"deletion_auc": {"baseline": "zero"}}``. A
        setting given for one metric of a group that shares a computation (the three ROAD
        scores; average drop and increase in confidence) applies to the whole group;
        :func:`~xai_gan.metrics.for_every` gives one setting (``seed``, say) to
        every metric that has it. See :func:`~xai_gan.metrics.registry.resolve`.

    Returns
    -------
    DataFrame with one row per (method, metric, image): ``method, metric, category, image,
    value, better``. :func:`summarise` turns it into means per method and metric.
    """
    if classes not in ("predicted", "label"):
        raise ValueError(f"classes must be 'predicted' or 'label', got {classes!r}")
    explainers = _explainers(explainers)
    if isinstance(teacher, str):
        teacher = explainer_registry.get(teacher)
    settings = resolve(options)
    n = len(dataset) if n is None else min(n, len(dataset))
    names = _metric_names(metrics, "mask" in dataset[0], teacher is not None)
    device = place(model, device)
    rows, warmed = [], set()
    timed = any(METRICS[name].category == "cost" for name in names)
    bar = progress_bar(total=len(range(0, n, batch_size)) * len(explainers), desc="evaluate",
                       disable=not progress)
    with eval_mode(model):
        for start, images, targets, masks in _batches(model, dataset, n, batch_size, classes,
                                                      device):
            teacher_maps = teacher(model, images, targets) if teacher is not None else None
            for method, explain in explainers.items():
                bar.set_postfix(method=method)
                maps, seconds = _explain(model, explain, images, targets,
                                         timed and (method, len(images)) not in warmed)
                warmed.add((method, len(images)))
                rows += _score(Explained(model, explain, images, targets, maps, seconds, masks,
                                         teacher_maps, first_image=start),
                               method, names, settings)
                bar.update()
    bar.close()
    return pd.DataFrame(rows, columns=["method", "metric", "category", "image", "value", "better"])


def signed_means(summary: pd.DataFrame) -> pd.Series:
    """Each mean with its sign turned so that lower is better (what a rank sorts on)."""
    return summary["mean"].where(summary["better"] == "lower", -summary["mean"])


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count (NaN excluded) per method and metric, the direction that is
    better, and each method's rank on each metric (1 = best)."""
    summary = (table.groupby(["metric", "method"], sort=False)
               .agg(category=("category", "first"), better=("better", "first"),
                    mean=("value", "mean"), std=("value", "std"), n=("value", "count"))
               .reset_index())
    summary["rank"] = signed_means(summary).groupby(summary["metric"]).rank(method="min")
    return summary[["method", "metric", "category", "better", "mean", "std", "n", "rank"]]


def not_rankings(summary: pd.DataFrame, teacher: str | None = None
                 ) -> tuple[list[str], list[tuple[str, str]]]:
    """What a rank table must not read as a ranking: the reference methods of ``summary``
    (maps that know nothing of the CNN: cheap by construction, and steady under input noise
    when they ignore the image) and the cells true by construction (the ``teacher``'s
    similarity to its own maps), as ``(references, [(method, metric), ...])``."""
    methods = list(dict.fromkeys(summary.method))
    references = [m for m in methods if explainer_registry.is_reference(m)]
    similarity = summary.loc[summary.category == "similarity", "metric"].unique()
    trivial = [(teacher, metric) for metric in similarity if teacher in methods]
    return references, trivial
