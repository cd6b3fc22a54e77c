"""Metrics that judge explanations, batched in torch (CPU or GPU), by category.

- faithfulness: deletion / insertion AUC, average drop %, increase in confidence %
- localisation: pointing game, energy-based pointing game, IoU (need ground-truth masks)
- complexity: sparseness (Gini), entropy
- robustness: max-sensitivity
- randomisation: model-parameter randomisation test (cascading, Spearman or SSIM)
- similarity: SSIM, MAE, Pearson, Spearman against a target map

:func:`evaluate` runs explainers x metrics into a tidy DataFrame; :func:`summarise` averages it.
"""
from . import complexity, faithfulness, localisation, randomisation, robustness, similarity
from .evaluate import METRICS, Metric, evaluate, summarise

__all__ = ["METRICS", "Metric", "complexity", "evaluate", "faithfulness", "localisation",
           "randomisation", "robustness", "similarity", "summarise"]
