"""Explainers behind one interface: ``get(name)(model, images, targets=None) -> (B, H, W)``.

A new method is one file: subclass :class:`Explainer`, override ``explain``, and decorate the
class with ``@register("name")``.
"""
from .base import REGISTRY, Explainer, available, baselines, get, register
from . import cam, gfi, hybrid, lrp, sise  # noqa: F401  (each registers its methods)
from .gan import GANExplainer

__all__ = ["Explainer", "GANExplainer", "REGISTRY", "available", "baselines", "get", "register"]
