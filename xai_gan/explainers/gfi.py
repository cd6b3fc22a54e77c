"""Guided Feature Inversion (Du, Liu, Song, Hu, KDD 2018)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..layers import conv_layers, resolve_layers
from ..scoped import temporary_hooks
from .base import Explainer, refuse_single_pixel, register
from ..maps import gaussian_blur, minmax


@register("gfi")
class GuidedFeatureInversion(Explainer):
    """Guided Feature Inversion (Du et al., KDD 2018): per-image optimisation of a soft mask
    built from a layer's feature maps.

    ``m = minmax(sum_i w_i f_i(x))`` over the channels of ``mask_layer`` (default: the
    next-to-last conv layer), ``w >= 0`` starting at 0.1; composite ``x * m + p * (1 - m)``
    with ``p`` the blurred image. Stage 1 keeps ``feature_layer``'s features (default: the last
    conv layer) of the composite close to the image's, plus ``gamma * |w|``; stage 2 raises the
    class probability of the composite and lowers that of its complement, plus
    ``delta * |w|``, with the learning rate halved every 10 steps. Defaults are the paper's.
    The squared error and the L1 terms are means over elements and channels, so the weights
    mean the same at any layer width. The weights are kept at or above ``floor`` rather than 0:
    the mask is min-max scaled, so only their ratios matter, and with Adam's sign-like steps
    the L1 terms could otherwise drive every weight to exactly 0, leaving an all-zero mask
    with no gradient to recover from.

    Raises ValueError when the mask layer's output is a single pixel (the mask would be
    constant, and min-max scaling makes it all zeros).

    Cost per image: 1 forward for the reference features; stage 1: a forward and a backward
    (down from the feature layer) per step; stage 2: one forward of the composite and its
    complement as one batch of twice the size, and a backward through it, per step. With
    the defaults: 81 forwards (70 of them of a double batch) and 80 backwards.
    """

    quick = False

    def __init__(self, stage1_steps: int = 10, stage2_steps: int = 70, lr: float = 1e-2,
                 gamma: float = 10.0, lam: float = 1.0, delta: float = 1.0,
                 blur_sigma: float | None = None, mask_layer=None, feature_layer=None,
                 floor: float = 1e-3):
        self.stage1_steps, self.stage2_steps, self.lr = stage1_steps, stage2_steps, lr
        self.gamma, self.lam, self.delta = gamma, lam, delta
        self.blur_sigma, self.mask_layer, self.feature_layer = blur_sigma, mask_layer, feature_layer
        self.floor = floor

    def explain(self, model, images, targets):
        layers = conv_layers(model, image_size=images.shape[-1], in_channels=images.shape[1])
        mask_layer, feature_layer = resolve_layers(model, [
            self.mask_layer or layers[-2 if len(layers) > 1 else -1],
            self.feature_layer or layers[-1]])
        captured = {}
        pairs = (("mask", mask_layer), ("features", feature_layer))  # may be one layer

        def capture(module, args, output):
            captured.update({key: output for key, layer in pairs if layer is module})

        with temporary_hooks(dict.fromkeys([mask_layer, feature_layer]), capture):
            return self._optimise(model, images, targets, captured)

    def _optimise(self, model, images, targets, captured):
        size = images.shape[-2:]
        with torch.no_grad():
            model(images)
            mask_features, target_features = captured["mask"], captured["features"]
        refuse_single_pixel("gfi", model, "mask layer", mask_features, images)
        blurred = gaussian_blur(images, self.blur_sigma or images.shape[-1] / 20)
        weights = torch.full(mask_features.shape[:2], 0.1, device=images.device,
                             requires_grad=True)

        def mask():
            m = (weights[:, :, None, None] * mask_features).sum(1)
            return F.interpolate(minmax(m)[:, None], size=size, mode="bilinear",
                                 align_corners=False)[:, 0]

        def probability(x):
            return F.softmax(model(x), 1).gather(1, targets.repeat(2)[:, None])[:, 0]

        def stage1_loss():
            m = mask()[:, None]
            model(images * m + blurred * (1 - m))
            error = (captured["features"] - target_features).pow(2).flatten(1).mean(1)
            return (error + self.gamma * weights.abs().mean(1)).sum()

        def stage2_loss():
            m = mask()[:, None]
            # composite and complement in one batch: one forward per step, not two
            keep, remove = probability(torch.cat([images * m + blurred * (1 - m),
                                                  images * (1 - m) + blurred * m])).chunk(2)
            return (-keep + self.lam * remove + self.delta * weights.abs().mean(1)).sum()

        for steps, loss_fn, halve in ((self.stage1_steps, stage1_loss, False),
                                      (self.stage2_steps, stage2_loss, True)):
            optimiser = torch.optim.Adam([weights], lr=self.lr)
            for step in range(steps):
                if halve and step and step % 10 == 0:
                    for group in optimiser.param_groups:
                        group["lr"] /= 2
                with torch.enable_grad():
                    weights.grad, = torch.autograd.grad(loss_fn(), weights)
                optimiser.step()
                with torch.no_grad():
                    weights.clamp_(min=self.floor)
        with torch.no_grad():
            return mask()
