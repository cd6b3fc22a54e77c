"""Every explainer x every metric on one model and dataset, as a tidy table."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch
from torch.utils.data import default_collate
from tqdm.auto import tqdm

from .. import explainers as explainer_registry
from ..classifiers import resolve_device
from . import complexity, faithfulness, localisation, randomisation, robustness, similarity


@dataclass(frozen=True)
class Metric:
    category: str
    better: str  # "higher" or "lower"
    needs: str | None = None  # "masks" (ground truth) or "reference" (a target map)


METRICS = {
    "deletion_auc": Metric("faithfulness", "lower"),
    "insertion_auc": Metric("faithfulness", "higher"),
    "average_drop": Metric("faithfulness", "lower"),
    "increase_in_confidence": Metric("faithfulness", "higher"),
    "pointing_game": Metric("localisation", "higher", "masks"),
    "energy_pointing_game": Metric("localisation", "higher", "masks"),
    "iou": Metric("localisation", "higher", "masks"),
    "sparseness": Metric("complexity", "higher"),
    "entropy": Metric("complexity", "lower"),
    "max_sensitivity": Metric("robustness", "lower"),
    "randomisation_spearman": Metric("randomisation", "lower"),
    "randomisation_ssim": Metric("randomisation", "lower"),
    "ssim": Metric("similarity", "higher", "reference"),
    "mae": Metric("similarity", "lower", "reference"),
    "pearson": Metric("similarity", "higher", "reference"),
    "ms_per_image": Metric("cost", "lower"),
}


def _explainers(explainers) -> dict[str, Callable]:
    if isinstance(explainers, str):
        explainers = [explainers]
    if not isinstance(explainers, dict):
        explainers = {name: explainer_registry.get(name) for name in explainers}
    return explainers


def _metric_names(metrics, has_masks: bool, has_reference: bool) -> list[str]:
    if metrics == "all":
        usable = {None, "masks" if has_masks else None, "reference" if has_reference else None}
        return [m for m, spec in METRICS.items() if spec.needs in usable]
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; choose from {list(METRICS)}")
        if METRICS[m].needs == "masks" and not has_masks:
            raise ValueError(f"metric {m!r} needs ground-truth masks and the dataset has none")
        if METRICS[m].needs == "reference" and not has_reference:
            raise ValueError(f"metric {m!r} compares with a target map: pass reference=")
    return metrics


def evaluate(model, dataset, explainers, metrics="all", n: int | None = None,
             batch_size: int = 16, targets: str = "predicted", reference=None,
             device=None, steps: int = 64, baseline: str = "blur", samples: int = 5,
             radius: float = 0.02, seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Score explainers on the first ``n`` images of ``dataset``.

    Parameters
    ----------
    model : the classifier to explain (put in eval mode).
    dataset : a Dataset of dicts with ``image``, ``label`` and optionally ``mask``.
    explainers : ``{name: explainer}`` or a list of registered names.
    metrics : ``"all"`` (every metric the data allow) or a list of names from ``METRICS``.
    targets : ``"predicted"`` (the model's class) or ``"label"`` (the true class).
    reference : explainer (name or callable) whose map the similarity metrics compare with.
    steps, baseline : of the deletion and insertion curves.
    samples, radius : of max-sensitivity (uniform noise, ``samples`` draws).

    Returns
    -------
    DataFrame with one row per (method, metric, image): ``method, metric, category, image,
    value, better``. :func:`summarise` turns it into means per method and metric.
    """
    if targets not in ("predicted", "label"):
        raise ValueError(f"targets must be 'predicted' or 'label', got {targets!r}")
    explainers = _explainers(explainers)
    if isinstance(reference, str):
        reference = explainer_registry.get(reference)
    n = len(dataset) if n is None else min(n, len(dataset))
    first = dataset[0]
    names = _metric_names(metrics, "mask" in first, reference is not None)
    device = resolve_device(device)
    model = model.to(device).eval()
    rows = []
    starts = range(0, n, batch_size)
    bar = tqdm(total=len(starts) * len(explainers), desc="evaluate", disable=not progress)
    for start in starts:
        batch = default_collate([dataset[i] for i in range(start, min(start + batch_size, n))])
        images = batch["image"].to(device)
        with torch.no_grad():
            classes = (model(images).argmax(1) if targets == "predicted"
                       else batch["label"].to(device))
        target_maps = reference(model, images, classes) if reference is not None else None
        for method, explain in explainers.items():
            bar.set_postfix(method=method)
            tic = time.perf_counter()
            maps = explain(model, images, classes)
            seconds = time.perf_counter() - tic
            scores = _scores(names, model, explain, images, classes, maps, batch.get("mask"),
                             target_maps, seconds, dict(steps=steps, baseline=baseline),
                             dict(samples=samples, radius=radius, seed=seed + start), seed)
            for metric, values in scores.items():
                for i, value in enumerate(values.tolist()):
                    rows.append((method, metric, METRICS[metric].category, start + i, value,
                                 METRICS[metric].better))
            bar.update()
    bar.close()
    return pd.DataFrame(rows, columns=["method", "metric", "category", "image", "value", "better"])


def _scores(names, model, explain, images, classes, maps, masks, target_maps, seconds,
            curve_options, noise_options, seed) -> dict[str, torch.Tensor]:
    out = {}
    for name in ("deletion_auc", "insertion_auc"):
        if name in names:
            out[name] = getattr(faithfulness, name)(model, images, maps, classes, **curve_options)
    if {"average_drop", "increase_in_confidence"} & set(names):
        drop, increase = faithfulness.confidence_change(model, images, maps, classes)
        out["average_drop"], out["increase_in_confidence"] = drop, increase
    if masks is not None:
        masks = masks.to(maps.device)
        for name in ("pointing_game", "energy_pointing_game", "iou"):
            out[name] = getattr(localisation, name)(maps, masks)
    out["sparseness"] = complexity.sparseness(maps)
    out["entropy"] = complexity.entropy(maps)
    if "max_sensitivity" in names:
        out["max_sensitivity"] = robustness.max_sensitivity(explain, model, images, classes, maps,
                                                            **noise_options)
    for name in ("spearman", "ssim"):
        if f"randomisation_{name}" in names:
            (score,) = randomisation.model_parameter_randomisation(
                explain, model, images, classes, maps, name, seed, last_only=True).values()
            out[f"randomisation_{name}"] = score
    if target_maps is not None:
        for name in ("ssim", "mae", "pearson"):
            out[name] = getattr(similarity, name)(maps, target_maps)
    out["ms_per_image"] = torch.full((len(images),), 1000 * seconds / len(images))
    return {name: out[name].cpu() for name in names}


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count (NaN excluded) per method and metric, the direction that is
    better, and each method's rank on each metric (1 = best)."""
    summary = (table.groupby(["metric", "method"], sort=False)
               .agg(category=("category", "first"), better=("better", "first"),
                    mean=("value", "mean"), std=("value", "std"), n=("value", "count"))
               .reset_index())
    signed = summary["mean"].where(summary["better"] == "lower", -summary["mean"])
    summary["rank"] = signed.groupby(summary["metric"]).rank(method="min")
    return summary[["method", "metric", "category", "better", "mean", "std", "n", "rank"]]
