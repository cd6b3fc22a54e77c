"""Which method to use for which need: a summary of every method x every metric, read need by
need (the closing notebook's table)."""
from __future__ import annotations

import pandas as pd

from .. import explainers as explainer_registry
from .evaluate import signed_means

# what a user asks of a map -> the metrics that answer it (those the summary holds are used)
NEEDS = {
    "faithfulness": ["deletion_auc", "insertion_auc", "road_combined"],
    "localisation": ["pointing_game", "energy_pointing_game", "iou"],
    "sanity check": ["randomisation_ssim", "randomisation_spearman"],
    "stability": ["max_sensitivity"],
    "concise maps": ["sparseness"],
    "speed": ["ms_per_image"],
}
# needs on which a reference map can be judged: noise is fast, steady and unrelated to a
# randomised CNN by construction, so it "wins" the others without showing anything
JUDGED_AGAINST_REFERENCES = ("faithfulness", "localisation")


def by_need(summary: pd.DataFrame, needs: dict | None = None,
            exclude: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per need, the explainers ranked by their mean rank over the need's metrics.

    Means are compared to 3 significant digits, and a tie goes to the cheaper method.

    Parameters
    ----------
    summary
        :func:`summarise`'s table (method, metric, better, mean, ...).
    needs
        Need -> metrics (default :data:`NEEDS`); needs whose metrics the summary lacks are
        left out.
    exclude
        Methods not to recommend besides the reference maps (e.g. ``copy``, a diagnostic).

    Returns
    -------
    pandas.DataFrame
        Indexed by need: ``metrics``, ``best``, ``runner_up``, ``gan_place`` (the place of the
        best-placed method whose name starts with ``gan``, of ``candidates``), ``candidates``,
        ``best_ms`` (the best's milliseconds per image, when measured) and ``beats_references``
        (whether the best beats every reference map on every metric of the need; only for
        :data:`JUDGED_AGAINST_REFERENCES`).
    """
    references = [m for m in summary.method.unique() if explainer_registry.is_reference(m)]
    candidates = summary[~summary.method.isin(references + list(exclude))]
    scored = summary.assign(signed=signed_means(summary))
    cost = summary[summary.metric == "ms_per_image"].set_index("method")["mean"]
    rows = {}
    for need, metrics in (needs or NEEDS).items():
        metrics = [m for m in metrics if m in set(summary.metric)]
        if not metrics:
            continue
        chosen = candidates[candidates.metric.isin(metrics)]
        # to 3 significant digits: means equal in print are a tie, not float noise apart
        signed = signed_means(chosen).map(lambda v: float(f"{v:.3g}"))
        ranks = signed.groupby(chosen.metric).rank(method="min")
        table = pd.DataFrame({"rank": ranks.groupby(chosen.method).mean()})
        table["ms"] = cost.reindex(table.index)
        order = table.sort_values(["rank", "ms"], kind="stable")  # ties: the cheaper first
        places = [i + 1 for i, m in enumerate(order.index) if m.startswith("gan")]
        rows[need] = {"metrics": ", ".join(metrics), "best": order.index[0],
                      "runner_up": order.index[1] if len(order) > 1 else None,
                      "gan_place": places[0] if places else None, "candidates": len(order),
                      "best_ms": cost.get(order.index[0]),
                      "beats_references": _beats(scored, order.index[0], references, metrics)
                      if need in JUDGED_AGAINST_REFERENCES else None}
    return pd.DataFrame.from_dict(rows, orient="index")


def _beats(scored: pd.DataFrame, method: str, references: list[str], metrics: list[str]):
    """Whether ``method`` beats every reference on every metric (None: no reference scored)."""
    table = scored[scored.metric.isin(metrics)].pivot(index="metric", columns="method",
                                                        values="signed")
    present = [r for r in references if r in table]
    return bool((table[method].values[:, None] < table[present].values).all()) if present else None
