"""Reference maps that know nothing of the CNN: a method that cannot beat them on a metric
has shown nothing on that metric.

``random`` is uniform noise (the chance level of every faithfulness and localisation score);
``centre`` is a Gaussian centred on the image, the photographer's bias (most photos centre
their object, so it scores high on localisation wherever they do); ``edge`` is the image's
Sobel gradient magnitude, which Adebayo et al. (2018, "Sanity checks for saliency maps")
showed many saliency maps resemble. All ignore the model and the class; cost: no forward pass
(plus one when ``targets`` is None, as for every explainer).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Explainer, register


@register("random")
class RandomMap(Explainer):
    """Uniform noise, the same for the same ``seed`` and image size."""

    reference = True

    def __init__(self, seed: int = 0):
        self.seed = seed

    def explain(self, model, images, targets):
        generator = torch.Generator().manual_seed(self.seed)
        noise = torch.rand(len(images), *images.shape[-2:], generator=generator)
        return noise.to(images.device)


@register("centre")
class CentreMap(Explainer):
    """A Gaussian centred on the image, the same for every image.

    Parameters
    ----------
    width : float
        Its standard deviation as a fraction of the image side.
    """

    reference = True

    def __init__(self, width: float = 0.25):
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        self.width = width

    def explain(self, model, images, targets):
        height, width = images.shape[-2:]
        rows = torch.linspace(-0.5, 0.5, height, device=images.device)[:, None] * height
        cols = torch.linspace(-0.5, 0.5, width, device=images.device)[None] * width
        side = self.width * max(height, width)
        gauss = torch.exp(-(rows ** 2 + cols ** 2) / (2 * side ** 2))
        return gauss.expand(len(images), -1, -1)


@register("edge")
class EdgeMap(Explainer):
    """Sobel gradient magnitude (Sobel and Feldman, 1968) of the channel-mean image."""

    reference = True

    def explain(self, model, images, targets):
        grey = images.float().mean(1, keepdim=True)
        sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                             device=images.device)
        kernels = torch.stack([sobel, sobel.T])[:, None]
        gradients = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), kernels)
        return gradients.norm(dim=1)
