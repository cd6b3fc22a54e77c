"""The SFT-cGAN as an explainer: the CNN's representation in, a trained generator's map out
(Guna, Sikha, Benitez, "Interpreting CNN predictions using conditional Generative Adversarial
Networks", Knowledge-Based Systems 2024, arXiv 2301.08067).

Registered as ``gan`` in :mod:`xai_gan.explainers` when :mod:`xai_gan.gan` is imported (the
explainers come first in the package's import order, and know nothing of the GAN). The baseline
it must beat, its input's first map returned as it is, is the explainer ``copy``
(:mod:`xai_gan.explainers.copy`).
"""
from __future__ import annotations

import weakref
from pathlib import Path

import torch
from torch import nn

from ..devices import model_device
from ..explainers import Explainer, register
from ..inputs import input_transform
from ..io import as_json
from ..layers import representation_layers
from ..maps import resize
from ..representation import cumulative_maps, layer_gradcams
from .checkpoint import load_generator


@register("gan")
class GANExplainer(Explainer):
    """Explain with a trained generator, the cGAN explainer of Guna, Sikha and Benitez (2024):
    ``get("gan", checkpoint=path)`` or :meth:`from_checkpoint`.

    Costs one forward and one backward pass of the CNN (its layer-wise Grad-CAMs, the
    representation the generator was trained on) plus one generator forward. ``teacher``
    names the explainer whose maps it learned to draw (from the checkpoint). A generator
    trained on the explained class too (``classes`` in its spec) is told the target class.

    The CNN runs at the images' size; the generator works at its ``map_size`` (the image
    and the condition maps are resized to it) and its map is resized back to the images'
    size. The generator follows the model to its device.

    A CNN the generator was trained on (the same ``xai_gan_spec``, as its checkpoint records)
    must give its conditions at the same layers: after a change of
    :func:`xai_gan.layers.representation_layers` such a generator is refused, not fed maps
    of other layers. CNNs the checkpoint does not record (another spec, or none: a plain
    torchvision model) are not checked, nor are checkpoints written before that record.
    """

    needs_training = True

    def __init__(self, checkpoint: str | Path | None = None, generator: nn.Module | None = None,
                 k: int | None = None, map_size: int | None = None):
        if checkpoint is not None:
            generator, state = load_generator(checkpoint, k, map_size)
            k, map_size = state["k"], state["map_size"]
            self.teacher = state.get("teacher")
            self.trained_on = state.get("representations", [])  # none before the record
        elif generator is None or k is None or map_size is None:
            raise ValueError("the gan explainer needs a trained generator: "
                             "get('gan', checkpoint=path), or generator=, k= and map_size=")
        else:
            self.teacher, self.trained_on = None, []
        self.checkpoint = checkpoint
        self._checked = weakref.WeakSet()  # the models whose layers were compared
        self.generator = generator.eval()
        self.k, self.map_size = k, map_size
        self.image_channels = generator.spec["image_channels"]

    @classmethod
    def from_checkpoint(cls, path: str | Path, **options) -> "GANExplainer":
        """Load a generator checkpoint (``best.pt`` or ``last.pt`` of a training run)."""
        return cls(checkpoint=path, **options)

    def explain(self, model, images, targets):
        if images.shape[1] != self.image_channels:
            raise ValueError(f"the generator was trained on {self.image_channels}-channel "
                             f"images; these have {images.shape[1]}")
        if model not in self._checked:
            self._check_layers(model, images)
            self._checked.add(model)
        conditions = cumulative_maps(layer_gradcams(model, images, targets, size=self.map_size),
                                     self.k)
        self.generator.to(model_device(model))
        # explain() sees the model's normalised input; the generator learned on [0, 1] images
        transform = input_transform(model)
        pixels = transform.inverse(images) if transform is not None else images
        with torch.no_grad():
            heat = self.generator(resize(pixels, self.map_size), conditions, targets)[:, 0]
        return resize(heat, images.shape[-1])

    def _check_layers(self, model, images) -> None:
        spec = getattr(model, "xai_gan_spec", None)
        if spec is None:  # stores name such a CNN by its class alone: resnet18 = resnet50
            return
        spec = as_json(spec)
        trained = [r["layers"] for r in self.trained_on if as_json(r["model"]) == spec]
        if not trained:
            return
        layers = [name for name, _ in representation_layers(model, images.shape[-1],
                                                            images.shape[1])]
        if layers not in trained:
            raise ValueError(
                f"{self.checkpoint}: the generator was trained on this CNN's Grad-CAM maps of "
                f"layers {trained[0]}, but they are now computed at {layers} (xai_gan's choice "
                "of layers changed since): train the GAN again (its folder and the "
                "representation stores deleted)")
