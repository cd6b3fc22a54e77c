"""Explainers behind one interface: ``get(name)(model, images, targets=None) -> (B, H, W)``.

A new method is one file: subclass :class:`Explainer`, override ``explain``, and decorate the
class with ``@register("name")``. The trained GAN registers itself as ``gan`` from
:mod:`xai_gan.gan` (this package comes before the GAN in the import order).
"""
from .base import (REGISTRY, Explainer, ZeroMapWarning, available, baselines, get,
                   is_reference, quick, register, zero_maps_expected)
# each registers its methods
from . import cam, copy, gfi, hybrid, lrp, reference, sise  # noqa: F401

__all__ = ["Explainer", "REGISTRY", "ZeroMapWarning", "available", "baselines", "get",
           "is_reference", "quick", "register", "zero_maps_expected"]
