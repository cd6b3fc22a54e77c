"""The SFT-cGAN as an explainer: the CNN's representation in, a trained generator's map out.

Registered as ``gan`` in :mod:`xai_gan.explainers` when :mod:`xai_gan.gan` is imported (the
explainers come first in the package's import order, and know nothing of the GAN).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..explainers import Explainer, register
from ..representation import cumulative_maps, layer_gradcams
from .checkpoint import load_generator


@register("gan")
class GANExplainer(Explainer):
    """Explain with a trained generator: ``get("gan", checkpoint=path)`` or
    :meth:`from_checkpoint`.

    Costs one forward and one backward pass of the CNN (its layer-wise Grad-CAMs, the
    representation the generator was trained on) plus one generator forward. ``teacher``
    names the explainer whose maps it learned to draw (from the checkpoint).
    """

    needs_training = True

    def __init__(self, checkpoint: str | Path | None = None, generator: nn.Module | None = None,
                 k: int | None = None, image_size: int | None = None, device=None):
        if checkpoint is not None:
            generator, state = load_generator(checkpoint, k, image_size)
            k, image_size = state["k"], state["image_size"]
            self.teacher = state.get("teacher")
        elif generator is None or k is None or image_size is None:
            raise ValueError("the gan explainer needs a trained generator: "
                             "get('gan', checkpoint=path), or generator=, k= and image_size=")
        else:
            self.teacher = None
        self.generator = generator.eval()
        if device is not None:
            self.generator.to(device)
        self.k, self.image_size = k, image_size
        self.image_channels = generator.spec["image_channels"]

    @classmethod
    def from_checkpoint(cls, path: str | Path, **options) -> "GANExplainer":
        """Load a generator checkpoint (``best.pt`` or ``last.pt`` of a training run)."""
        return cls(checkpoint=path, **options)

    def explain(self, model, images, targets):
        if tuple(images.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"the generator was trained on {self.image_size} x {self.image_size}"
                             f" images; these are {images.shape[-2]} x {images.shape[-1]}")
        if images.shape[1] != self.image_channels:
            raise ValueError(f"the generator was trained on {self.image_channels}-channel "
                             f"images; these have {images.shape[1]}")
        conditions = cumulative_maps(layer_gradcams(model, images, targets), self.k)
        device = next(self.generator.parameters()).device
        with torch.no_grad():
            heat = self.generator(images.to(device), conditions.to(device))
        return heat[:, 0].to(images.device)
