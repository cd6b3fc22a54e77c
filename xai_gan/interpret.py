"""Looking inside the GAN: which conditions it relies on, and whether it transfers.

* :func:`condition_relevance` removes each of the k condition maps in turn and measures how
  much the generated map changes (an occlusion study over the conditions).
* :func:`transfer` scores generators on stores they may never have seen (other CNNs, other
  datasets): the cross-architecture and cross-dataset studies are tables of it; the pipeline
  (:func:`xai_gan.studies.cross_architecture`, :func:`xai_gan.studies.cross_dataset`) trains
  the generators they compare.

Fidelity is measured against the store's teacher maps (the teacher's explanation): Pearson,
SSIM and mean absolute error, as in validation (:func:`xai_gan.gan.train.validate`).
"""
from __future__ import annotations

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from .gan.validation import validate
from .maps import pearson
from .progress import progress_bar
from .representation import cumulative_positions

FILLS = ("zero", "mean")


def _first(store: Dataset, n: int | None) -> Dataset:
    return store if n is None or n >= len(store) else Subset(store, range(n))


def _layers(store: Dataset) -> list[str] | None:
    store = getattr(store, "dataset", store)  # a Subset
    return getattr(store, "metadata", {}).get("layers")


def condition_labels(store: Dataset, k: int) -> list[str]:
    """What each condition map averages: ``"condition 0: deepest 1 of L layers"`` ... for
    ``k`` maps."""
    layers = _layers(store)
    if not layers:
        return [f"condition {j}" for j in range(k)]
    depths = [p + 1 for p in cumulative_positions(len(layers), k)]
    return [f"condition {j}: deepest {d} of {len(layers)} layers" for j, d in enumerate(depths)]


@torch.no_grad()
def condition_relevance(generator: nn.Module, store: Dataset, n: int | None = None,
                        fill: str = "zero", batch_size: int = 64,
                        progress: bool = True) -> pd.DataFrame:
    """How much the generated map changes when each condition map is removed.

    Condition ``j`` is replaced by zeros (``fill="zero"``: no evidence at all) or by its mean
    over the images (``fill="mean"``: evidence that no longer depends on the image); the
    other k - 1 maps and the image are left as they are.

    Parameters
    ----------
    generator : a trained generator, called as ``generator(images, conditions, classes)``
        (the classes: the store's ``pred``, for a generator that reads them).
    store : a representation store (or any dataset of dicts with ``image`` and ``conditions``).
    n : the first ``n`` items (default all).

    Returns
    -------
    DataFrame, one row per (image, condition): ``image, condition, label, change`` (mean
    absolute change of the map, maps in [0, 1]), ``share`` (the condition's fraction of the
    image's total change) and ``correlation`` (Pearson between the maps with and without it).
    """
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
    store = _first(store, n)
    device = next(generator.parameters()).device
    generator.eval()
    mean = None
    if fill == "mean":
        total = sum(batch["conditions"].sum(0)
                    for batch in DataLoader(store, batch_size=batch_size))
        mean = (total / len(store)).to(device)
    rows, offset = [], 0
    for batch in progress_bar(DataLoader(store, batch_size=batch_size),
                              desc="condition relevance", disable=not progress):
        images, conditions = batch["image"].to(device), batch["conditions"].to(device)
        k = conditions.shape[1]
        full = generator(images, conditions, batch.get("pred"))[:, 0]
        changes = []
        for j in range(k):
            removed = conditions.clone()
            removed[:, j] = 0 if mean is None else mean[j]
            heat = generator(images, removed, batch.get("pred"))[:, 0]
            changes.append(((heat - full).abs().flatten(1).mean(1).cpu(),
                            pearson(heat, full).cpu()))
        total = torch.stack([c for c, _ in changes]).sum(0).clamp_min(1e-12)
        for j, (change, corr) in enumerate(changes):
            for i in range(len(images)):
                rows.append((offset + i, j, change[i].item(), (change[i] / total[i]).item(),
                             corr[i].item()))
        offset += len(images)
    table = pd.DataFrame(rows, columns=["image", "condition", "change", "share", "correlation"])
    labels = condition_labels(store, int(table.condition.max()) + 1)
    table.insert(2, "label", table.condition.map(dict(enumerate(labels))))
    return table.sort_values(["image", "condition"], ignore_index=True)


def _common_label(labels: pd.Series) -> str:
    """The label, or only its ``condition j`` part where CNNs of different depths are pooled."""
    return labels.iloc[0] if labels.nunique() == 1 else labels.iloc[0].split(":")[0]


def relevance_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std of :func:`condition_relevance`'s change and share, per condition (over
    every row of ``table``: several CNNs' tables may be pooled)."""
    return (table.groupby("condition", sort=True)
            .agg(label=("label", _common_label), change=("change", "mean"),
                 change_std=("change", "std"), share=("share", "mean"),
                 correlation=("correlation", "mean"))
            .reset_index())


def shallow_vs_deep(table: pd.DataFrame, tolerance: float = 2.0) -> dict:
    """Test the paper's finding that the shallowest and the deepest conditions matter about
    equally.

    The deepest condition is condition 0 (the deepest layer alone); the one that reaches the
    shallowest layer is condition k-1 (the mean of every layer). The finding holds when their mean
    changes are within a factor ``tolerance`` of each other.
    """
    summary = relevance_summary(table)
    deep, shallow = summary.change.iloc[0], summary.change.iloc[-1]
    ratio = deep / shallow if shallow > 0 else float("inf")
    holds = bool(1 / tolerance <= ratio <= tolerance)
    verdict = (f"removing the deepest condition changes the map by {deep:.3g} on average and "
               f"removing the one that reaches the shallowest layer by {shallow:.3g} "
               f"(ratio {ratio:.2f}): the paper's finding that they matter about equally "
               f"{'holds' if holds else 'does not hold'} here (within a factor {tolerance:g})")
    return {"deepest": float(deep), "shallowest": float(shallow), "ratio": float(ratio),
            "holds": holds, "verdict": verdict}


def transfer(generators: dict[str, nn.Module], stores: dict[str, Dataset],
             n: int | None = None, batch_size: int = 64) -> pd.DataFrame:
    """Fidelity of every generator on every store (to the store's teacher maps).

    Returns
    -------
    DataFrame, one row per (generator, store): ``gan, tested_on, pearson, ssim, mae, n``.
    """
    rows = []
    for name, generator in generators.items():
        for tested_on, store in stores.items():
            store = _first(store, n)
            scores = validate(generator, store, batch_size=batch_size)
            rows.append({"gan": name, "tested_on": tested_on,
                         "pearson": scores["val_pearson"], "ssim": scores["val_ssim"],
                         "mae": scores["val_l1"], "n": len(store)})
    return pd.DataFrame(rows)


def generalisation_gap(table: pd.DataFrame, seen: dict[str, list[str]]) -> pd.DataFrame:
    """Each generator's fidelity on what it was trained on against what it never saw.

    ``seen`` maps a generator's name to the stores (names in ``table.tested_on``) that were
    in its training data. Returns one row per generator: ``gan, seen_pearson, unseen_pearson,
    gap`` (seen minus unseen) and the same for SSIM.
    """
    rows = []
    for name, group in table.groupby("gan", sort=False):
        known = group.tested_on.isin(seen[name])
        row = {"gan": name}
        for metric in ("pearson", "ssim"):
            row[f"seen_{metric}"] = group.loc[known, metric].mean()
            row[f"unseen_{metric}"] = group.loc[~known, metric].mean()
            row[f"{metric}_gap"] = row[f"seen_{metric}"] - row[f"unseen_{metric}"]
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["condition_relevance", "relevance_summary", "shallow_vs_deep", "condition_labels",
           "transfer", "generalisation_gap"]
