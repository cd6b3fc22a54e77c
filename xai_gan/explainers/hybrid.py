"""GradCAM x LRP hybrid (Dhore et al., arXiv 2405.12175)."""
from __future__ import annotations

from .base import Explainer, get, register, zero_maps_expected
from ..maps import gaussian_blur


@register("gradcam-lrp")
class GradCAMLRP(Explainer):
    """The GradCAM x LRP hybrid (Dhore et al., 2024): de-noised Grad-CAM times the LRP map,
    then Gaussian-blurred.

    The paper publishes neither threshold nor blur, so the defaults are ours: ``threshold=0.2``
    (of each Grad-CAM map's maximum) drops the faint, spread-out part of the coarse Grad-CAM
    map while keeping its main blobs; ``sigma`` = image side / 32 (2 px at 64 px) smooths LRP's
    pixel-level speckle without blurring past the object's edges.

    Cost per image: 2 forwards + 2 backwards (one Grad-CAM, one LRP).
    """

    def __init__(self, threshold: float = 0.2, sigma: float | None = None, cam: str = "gradcam"):
        self.threshold, self.sigma, self.cam = threshold, sigma, cam

    def explain(self, model, images, targets):
        with zero_maps_expected():  # a zero part is reported once, for the product
            cam = get(self.cam)(model, images, targets)
            relevance = get("lrp")(model, images, targets)
        cam = cam * (cam >= self.threshold)
        sigma = self.sigma if self.sigma is not None else images.shape[-1] / 32
        return gaussian_blur((cam * relevance)[:, None], sigma)[:, 0]
