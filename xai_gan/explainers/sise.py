"""SISE: Semantic Input Sampling for Explanation (Sattarzadeh et al., AAAI 2021)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..hooks import activations_and_gradients
from .base import Explainer, register
from ..maps import minmax, otsu_threshold


def block_ends(activations: list[torch.Tensor]) -> list[int]:
    """Indices of the last conv layer of each block: the layer before the spatial size drops,
    and the last layer (for any CNN, without knowing its block structure)."""
    sizes = [a.shape[-2:] for a in activations]
    return [i for i in range(len(sizes))
            if i == len(sizes) - 1 or sizes[i + 1][0] < sizes[i][0]]


@register("sise")
class SISE(Explainer):
    """SISE (Sattarzadeh et al., AAAI 2021) with automatic layer selection (the end of every
    conv block).

    Per block-end layer, the feature maps whose summed gradient of the class score is positive
    become masks (upsampled, min-max scaled); each mask is scored by the class probability of
    the masked image, and the layer's map is ``sum(score * mask) / sum(mask)`` per pixel.
    Layer maps are fused from low to high blocks: ``e <- (e + v) * [v > otsu(v)]``. Layers
    with a single-pixel output, and flat layer maps (every mask scored the same), are
    skipped: either would zero the fused map while saying nothing about where.

    Raises ValueError when no block end has more than one pixel, and when an image has only
    flat layer maps (e.g. a random-init Inception v3, whose logits reach 1e11: every masked
    image gets probability exactly 1). An image with no positive-gradient channel at any
    block end (no positive evidence) gets an all-zero map.

    Cost per image: 1 forward + 1 backward, plus one forward per kept mask (all positive-
    gradient channels of every block end, or at most ``max_masks`` per layer), in batches of
    ``batch_size``.
    """

    quick = False

    def __init__(self, max_masks: int | None = None, batch_size: int = 64):
        self.max_masks, self.batch_size = max_masks, batch_size

    def explain(self, model, images, targets):
        _, activations, gradients, _ = activations_and_gradients(model, images, targets)
        # A single-pixel layer gives constant masks: no spatial information, and its flat layer
        # map would zero the fused map at the Otsu step.
        layers = [i for i in block_ends(activations) if activations[i].shape[-2:].numel() > 1]
        if not layers:
            raise ValueError(
                f"sise: every block end of {type(model).__name__} has a single-pixel output "
                f"for {images.shape[-2]}x{images.shape[-1]} px images; use larger images")
        heat, flat_only = [], 0
        for b in range(len(images)):
            fused, flat = None, False
            for i in layers:
                layer_map = self._layer_map(model, images[b], int(targets[b]),
                                            activations[i][b], gradients[i][b])
                if layer_map is None:  # no channel with a positive gradient
                    continue
                if layer_map.amax() == 0:  # flat: fusing it would zero the map, saying nothing
                    flat = True
                    continue
                fused = layer_map if fused is None else \
                    (fused + layer_map) * (layer_map > otsu_threshold(layer_map))
            flat_only += fused is None and flat
            # No positive-gradient channel anywhere: no positive evidence, an all-zero map.
            heat.append(minmax(fused) if fused is not None else torch.zeros_like(images[b, 0]))
        if flat_only:
            with torch.no_grad():
                largest = model(images).abs().max().item()
            raise ValueError(
                f"sise: for {flat_only} of {len(images)} images on {type(model).__name__} every "
                f"masked image got the same class probability, so nothing weighs the masks "
                f"(the largest |logit| is {largest:.2g}; a saturated softmax gives every "
                f"masked image probability exactly 0 or 1)")
        return torch.stack(heat)

    @torch.no_grad()
    def _layer_map(self, model, image, target, activation, gradient):
        alpha = gradient.sum((1, 2))
        keep = (alpha > 0).nonzero().flatten()
        if self.max_masks is not None:
            keep = keep[alpha[keep].argsort(descending=True)[:self.max_masks]]
        if len(keep) == 0:
            return None
        masks = F.interpolate(activation[keep][:, None].float(), size=image.shape[-2:],
                              mode="bilinear", align_corners=False)[:, 0]
        masks = minmax(masks)
        scores = torch.cat([
            F.softmax(model(image[None] * masks[s:s + self.batch_size, None]), 1)[:, target]
            for s in range(0, len(masks), self.batch_size)])
        total = masks.sum(0)
        weighted = (scores[:, None, None] * masks).sum(0)
        return minmax(torch.where(total > 0, weighted / total.clamp_min(1e-12), 0))
