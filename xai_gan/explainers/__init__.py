"""Explainers behind one interface: ``get(name)(model, images, targets=None) -> (B, H, W)``.

A new method is one file: subclass :class:`Explainer`, override ``explain``, and decorate the
class with ``@register("name")``.
"""
from .base import REGISTRY, Explainer, available, get, register
from . import cam, gfi, hybrid, lrp, sise  # noqa: F401  (each registers its methods)

__all__ = ["Explainer", "REGISTRY", "available", "get", "register"]
