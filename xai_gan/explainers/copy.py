"""``copy``: the GAN's own input, condition map 0 of the CNN representation, returned as it is.

The baseline every learned explainer must beat; registered here, beside the other baselines,
so that it is available whether or not :mod:`xai_gan.gan` was imported.
"""
from __future__ import annotations

from ..representation import layer_gradcams
from .base import Explainer, register


@register("copy")
class CopyExplainer(Explainer):
    """The baseline every learned explainer must beat: condition map 0 of the CNN
    representation (the deepest conv layer's Grad-CAM), returned as it is.

    A generator that draws no better than this has learned nothing its input did not hold.
    It costs what the GAN's representation costs (one forward and one backward pass): the
    GAN's cost minus its generator.
    """

    def explain(self, model, images, targets):
        return layer_gradcams(model, images, targets)[:, -1]
