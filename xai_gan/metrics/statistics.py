"""How sure a table of scores is: 95 % intervals per method and paired tests between methods.

Both read the per-image table :func:`xai_gan.metrics.evaluate` returns (one row per method,
metric and image). Paired: two methods are scored on the same images, so their difference is
judged image by image (a paired t-test), which is far more sensitive than comparing two
intervals that each carry the spread between images. scipy is imported on first use (it
adds about a second to ``import xai_gan``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def half_width(std: float, n: int, level: float = 0.95) -> float:
    """Half-width of the ``level`` t interval of a mean over ``n`` values of sample standard
    deviation ``std`` (NaN below 2 values): the interval of every table, of the report and of
    the benchmarks."""
    from scipy import stats

    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * std / np.sqrt(n))


def intervals(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean, half-width of the ``level`` t interval, and n, per method and metric.

    Returns
    -------
    DataFrame with columns ``method, metric, mean, half_width, n`` (NaN scores, e.g. a map
    without contrast on a metric that needs one, are left out of the count).
    """
    groups = table.groupby(["method", "metric"], sort=False)["value"]
    rows = [{"method": method, "metric": metric, "mean": values.mean(),
             "half_width": half_width(values.std(), values.count(), level),
             "n": int(values.count())}
            for (method, metric), values in groups]
    return pd.DataFrame(rows)


def paired(table: pd.DataFrame, first: str, second: str, metric: str,
           level: float = 0.95) -> dict:
    """``first`` minus ``second`` on ``metric``, image by image.

    Returns
    -------
    dict with ``difference`` (mean over the images both scored), ``half_width`` (of its
    ``level`` t interval), ``p`` (two-sided paired t-test; 1.0 when the two never differ) and
    ``n``.
    """
    scores = table[table["metric"] == metric].pivot_table(index="image", columns="method",
                                                          values="value")
    missing = {first, second} - set(scores.columns)
    if missing:
        raise ValueError(f"no {metric} scores for {sorted(missing)} in the table")
    kept = scores[first].notna() & scores[second].notna()
    one, other = scores.loc[kept, first], scores.loc[kept, second]
    if len(one) < 2:
        raise ValueError(f"a paired test needs at least 2 images scored by both, got {len(one)}")
    from scipy import stats

    difference = one - other
    p = 1.0 if (difference == 0).all() else float(stats.ttest_rel(one, other).pvalue)
    return {"difference": float(difference.mean()),
            "half_width": half_width(difference.std(), len(difference), level), "p": p,
            "n": len(one)}


__all__ = ["half_width", "intervals", "paired"]
