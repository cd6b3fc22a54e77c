"""The explainer interface and its registry."""
from __future__ import annotations

import torch
from torch import nn

from ..checks import as_targets, check_images
from ..modules import eval_mode

REGISTRY: dict[str, type["Explainer"]] = {}


def register(name: str):
    """Class decorator: make an :class:`Explainer` available as ``get(name)``."""
    def decorate(cls):
        if name in REGISTRY:
            raise ValueError(f"explainer {name!r} is registered twice")
        REGISTRY[name] = cls
        cls.name = name
        return cls
    return decorate


def available() -> list[str]:
    return sorted(REGISTRY)


def baselines() -> list[str]:
    """The registered methods that need nothing trained (every one but ``gan``)."""
    return [name for name in available() if not REGISTRY[name].needs_training]


def get(name: str, **options) -> "Explainer":
    """An explainer instance by name; ``options`` go to its constructor."""
    try:
        return REGISTRY[name](**options)
    except KeyError:
        hint = " (gan is registered by importing xai_gan.gan)" if name == "gan" else ""
        raise ValueError(f"unknown explainer {name!r}; choose from {available()}{hint}"
                         ) from None


class Explainer:
    """Base class: validates input, picks targets, normalises; subclasses override ``explain``.

    Calling an explainer returns a (B, H, W) float tensor in [0, 1] (each map divided by its
    maximum; an all-zero map stays zero) on the images' device. ``targets=None`` explains the
    predicted class. The model is
    put in eval mode for the call and its mode restored.

    Costs quoted in the subclasses are for given targets; ``targets=None`` adds one forward
    pass per image to find the predicted class.
    """

    name = "explainer"
    needs_training = False

    def explain(self, model: nn.Module, images: torch.Tensor,
                targets: torch.Tensor) -> torch.Tensor:
        """Non-negative (B, H, W) relevance of ``targets`` (a (B,) long tensor)."""
        raise NotImplementedError

    def __call__(self, model: nn.Module, images: torch.Tensor, targets=None) -> torch.Tensor:
        check_images(images)
        with eval_mode(model):
            if targets is None:
                with torch.no_grad():
                    targets = model(images).argmax(1)
            targets = as_targets(targets, len(images), images.device)
            heat = self.explain(model, images, targets).float().clamp_min(0)
        peak = heat.amax((1, 2), keepdim=True)
        return heat / torch.where(peak > 0, peak, 1)
