"""The SFT-cGAN explainer: the CNN's representation in, a trained generator's map out."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..gan.generators import build_generator
from ..gan.train import GENERATOR_FORMAT
from ..io import load_torch
from ..representation import cumulative_maps, layer_gradcams
from .base import Explainer, register


@register("gan")
class GANExplainer(Explainer):
    """Explain with a trained generator: ``get("gan", checkpoint=path)`` or
    :meth:`from_checkpoint`.

    Costs one forward and one backward pass of the CNN (its layer-wise Grad-CAMs, the
    representation the generator was trained on) plus one generator forward.
    """

    needs_training = True

    def __init__(self, checkpoint: str | Path | None = None, generator: nn.Module | None = None,
                 k: int | None = None, image_size: int | None = None, device=None):
        if checkpoint is not None:
            state = load_torch(checkpoint)
            if not isinstance(state, dict) or state.get("format") != GENERATOR_FORMAT:
                raise ValueError(f"{checkpoint} is not an xai-gan generator checkpoint")
            for name, asked in (("k", k), ("image_size", image_size)):
                if asked is not None and asked != state[name]:
                    raise ValueError(f"{checkpoint} was trained with {name} = {state[name]}, "
                                     f"not {name} = {asked}")
            generator = build_generator(seed=None, **state["spec"])
            generator.load_state_dict(state["state"])
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
        cgms = cumulative_maps(layer_gradcams(model, images, targets), self.k)
        device = next(self.generator.parameters()).device
        with torch.no_grad():
            heat = self.generator(images.to(device), cgms.to(device))
        return heat[:, 0].to(images.device)
