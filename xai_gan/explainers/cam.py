"""The CAM family through pytorch-grad-cam's own classes (not a rewrite).

Default target layer: the last conv layer of :func:`xai_gan.modules.conv_layers`.
Cost per image: gradcam, gradcam++, xgradcam, layercam 1 forward + 1 backward; eigencam
1 forward; scorecam 1 forward + one forward per channel of the target layer.
"""
from __future__ import annotations

import importlib

import torch
from torch import nn

from ..modules import conv_layers
from .base import Explainer, register


class CAMExplainer(Explainer):
    """Runs ``method``, the name of a pytorch-grad-cam class, on one target layer.

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
        return conv_layers(model, image_size=images.shape[-1], in_channels=images.shape[1])[-1][1]

    def explain(self, model, images, targets):
        method = getattr(importlib.import_module("pytorch_grad_cam"), self.method)
        output_target = importlib.import_module(
            "pytorch_grad_cam.utils.model_targets").ClassifierOutputTarget
        with method(model=model, target_layers=[self._layer(model, images)]) as cam:
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
    """Score-CAM (Wang et al. 2020). 1 forward + one forward per target-layer channel."""
    method = "ScoreCAM"
