"""The CAM family through pytorch-grad-cam's own classes (not a rewrite).

Default target layer: for torchvision and zoo classifiers, the block whose feature maps the
head pools (:func:`xai_gan.layers.feature_block`, as pytorch-grad-cam recommends); for other
models, the last conv layer of :func:`xai_gan.layers.conv_layers`. ``target_layer`` takes a
name or a module instead.
Cost per image: gradcam, gradcam++, xgradcam, layercam 1 forward + 1 backward; eigencam
1 forward; scorecam 1 forward + one forward per channel of the target layer (or per kept
channel, with ``max_channels``).
"""
from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from ..layers import conv_layers, feature_block
from ..scoped import temporary_hooks
from .base import Explainer, refuse_single_pixel, register


class CAMExplainer(Explainer):
    """Runs ``method``, the name of a pytorch-grad-cam class, on one target layer.

    Raises ValueError when the target layer's output is a single pixel (inception_v3's last
    block below 107 px, for example): the map would be constant, and pytorch-grad-cam
    would return it as all zeros.

    pytorch-grad-cam is imported on first use: it pulls in torchvision and scikit-learn,
    which would add seconds to every ``import xai_gan``.
    """

    method = "GradCAM"

    def __init__(self, target_layer: str | nn.Module | None = None):
        self.target_layer = target_layer

    def _layer(self, model: nn.Module, images: torch.Tensor) -> nn.Module:
        if isinstance(self.target_layer, nn.Module):
            return self.target_layer
        if isinstance(self.target_layer, str):
            return model.get_submodule(self.target_layer)
        block = feature_block(model)
        if block is not None:
            return block[1]
        return conv_layers(model, image_size=images.shape[-1], in_channels=images.shape[1])[-1][1]

    def _cam_class(self):
        return getattr(importlib.import_module("pytorch_grad_cam"), self.method)

    def _configure(self, cam) -> None:
        """Set options on the pytorch-grad-cam instance (none here)."""

    def explain(self, model, images, targets):
        output_target = importlib.import_module(
            "pytorch_grad_cam.utils.model_targets").ClassifierOutputTarget
        layer = self._layer(model, images)

        def single_pixel(module, args, output):
            # raised in the forward pass, before any (Score-CAM: thousands of) further passes
            refuse_single_pixel(self.name, model, "target layer", output, images)

        # The gradient methods need a graph even when the caller runs under torch.no_grad.
        with torch.enable_grad(), temporary_hooks([layer], single_pixel), \
                self._cam_class()(model=model, target_layers=[layer]) as cam:
            self._configure(cam)
            heat = cam(input_tensor=images, targets=[output_target(int(t)) for t in targets])
        return torch.from_numpy(heat).to(images.device)


@register("gradcam")
class GradCAM(CAMExplainer):
    """Grad-CAM (Selvaraju et al. 2017). 1 forward + 1 backward per image."""
    method = "GradCAM"


@register("gradcam++")
class GradCAMPlusPlus(CAMExplainer):
    """Grad-CAM++ (Chattopadhay et al. 2018). 1 forward + 1 backward per image."""
    method = "GradCAMPlusPlus"


@register("xgradcam")
class XGradCAM(CAMExplainer):
    """XGrad-CAM (Fu et al. 2020). 1 forward + 1 backward per image."""
    method = "XGradCAM"


@register("layercam")
class LayerCAM(CAMExplainer):
    """LayerCAM (Jiang et al. 2021). 1 forward + 1 backward per image."""
    method = "LayerCAM"


@register("eigencam")
class EigenCAM(CAMExplainer):
    """EigenCAM (Muhammad & Yeasin 2020): first principal component; 1 forward per image."""
    method = "EigenCAM"


@register("scorecam")
class ScoreCAM(CAMExplainer):
    """Score-CAM (Wang et al. 2020). 1 forward + one forward per target-layer channel.

    Parameters
    ----------
    target_layer : str or nn.Module, optional
    max_channels : int, optional
        Score only this many channels per image, those whose activation map varies most
        (a channel with a flat map makes a flat mask, which says little); the others get
        weight 0. A speed-up that approximates Score-CAM. ``None`` (default) scores every
        channel, as in the paper: 2048 forwards per image on a ResNet-50's last layer.
    batch_size : int
        Masked images per forward pass (pytorch-grad-cam's default is 16).
    """

    quick = False
    method = "ScoreCAM"

    def __init__(self, target_layer=None, max_channels: int | None = None,
                 batch_size: int = 16):
        super().__init__(target_layer)
        self.max_channels, self.batch_size = max_channels, batch_size

    def _cam_class(self):
        base = super()._cam_class()
        if self.max_channels is None:
            return base
        return type("TopVarianceScoreCAM", (base,),
                    {"get_cam_weights": _top_variance_weights(base, self.max_channels)})

    def _configure(self, cam):
        cam.batch_size = self.batch_size  # read by pytorch-grad-cam's ScoreCAM

    def explain(self, model, images, targets):
        # pytorch-grad-cam draws a progress bar per image (tqdm, no switch to turn it off):
        # hundreds of bars in a store build or a notebook's output; silence its tqdm here
        module = importlib.import_module("pytorch_grad_cam.score_cam")
        silent = lambda iterable, *_, **__: iterable  # noqa: E731
        real = module.tqdm  # the tqdm module (``tqdm.tqdm(...)``) or the tqdm class itself
        module.tqdm = SimpleNamespace(tqdm=silent) if hasattr(real, "tqdm") else silent
        try:
            return super().explain(model, images, targets)
        finally:
            module.tqdm = real


def _top_variance_weights(base, k: int):
    """``get_cam_weights`` for a ScoreCAM subclass that scores only the ``k`` channels of
    largest activation variance of each image (softmax over those ``k``), others weight 0."""
    def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads):
        weights = np.zeros(activations.shape[:2], dtype=np.float32)
        for b in range(len(activations)):
            keep = np.argsort(-activations[b].reshape(len(activations[b]), -1).var(1))[:k]
            weights[b, keep] = base.get_cam_weights(
                self, input_tensor[b:b + 1], target_layer, targets[b:b + 1],
                activations[b:b + 1, keep], None)[0]
        return weights
    return get_cam_weights
