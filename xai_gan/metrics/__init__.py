"""Metrics that judge explanations, batched in torch (CPU or GPU), by category.

- faithfulness: deletion / insertion AUC, average drop %, increase in confidence %, ROAD
  (MoRF, LeRF, combined)
- localisation: pointing game, energy-based pointing game, IoU (need ground-truth masks)
- complexity: sparseness (Gini), entropy
- robustness: max-sensitivity
- randomisation: model-parameter randomisation test (cascading, Spearman or SSIM)
- similarity: SSIM, MAE, Pearson against the teacher's map
- cost: milliseconds per image

Each category's module registers its metrics with :func:`metric`; :func:`evaluate` runs
explainers x metrics into a tidy DataFrame, each metric with its own settings (``options``);
:func:`summarise` averages it and :func:`by_need` reads that need by need; :func:`intervals`
and :func:`paired` say how sure those averages are, with the t interval of :func:`half_width`.
"""
from . import (complexity, cost, faithfulness, localisation, needs, randomisation, road,
               robustness, similarity)
from .evaluate import evaluate, not_rankings, summarise
from .needs import NEEDS, by_need
from .statistics import half_width, intervals, paired
from .registry import (CATEGORIES, METRICS, Explained, Metric, Options, available, for_every,
                       metric)

__all__ = ["CATEGORIES", "METRICS", "NEEDS", "Explained", "Metric", "Options", "available",
           "by_need", "complexity", "cost", "evaluate", "faithfulness", "for_every",
           "half_width", "intervals", "localisation", "metric", "needs", "not_rankings",
           "paired", "randomisation", "road", "robustness", "similarity", "summarise"]
