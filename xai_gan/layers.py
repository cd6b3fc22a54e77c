"""Which layers of a CNN the package reads: its ``Conv2d`` layers in forward order, the block
its head pools, and the layers of the CNN representation made of the two; layer names resolved
to modules; a model's parameter count.
"""
from __future__ import annotations

import torch
from torch import nn

from .scoped import eval_mode, temporary_hooks
from .zoo import ZOO

TORCHVISION_PREFIX = "torchvision:"


def example_size(name: str) -> int:
    """Side of the example input that :func:`conv_layers` runs through a model named
    ``name`` (its ``xai_gan_spec`` name): 64 for zoo models, 299 for inception_v3, else 224."""
    if name in ZOO:
        return 64
    return 299 if name.startswith(TORCHVISION_PREFIX + "inception") else 224


def conv_layers(model: nn.Module, image_size: int | None = None,
                in_channels: int | None = None) -> list[tuple[str, nn.Conv2d]]:
    """The model's ``Conv2d`` layers in the order a forward pass runs them.

    Found by running one example input through the model in eval mode with hooks, so the
    order is the execution order (not the order of registration) and layers the forward
    pass skips in eval mode (e.g. inception_v3's auxiliary head) are left out.

    Parameters
    ----------
    image_size : int, optional
        Side of the example input; default :func:`example_size` of the model's spec name.
    in_channels : int, optional
        Default: the spec's; for other models the first registered convolution's, then 3,
        then 1, whichever the model accepts.
    """
    convs = {m: n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer")
    spec = getattr(model, "xai_gan_spec", {})
    image_size = image_size or example_size(spec.get("name", ""))
    candidates = ([in_channels or spec.get("in_channels")] if in_channels or spec
                  else list(dict.fromkeys([next(iter(convs)).in_channels, 3, 1])))
    order: list[nn.Conv2d] = []

    def record(module, args):
        if module not in order:
            order.append(module)

    param = next(model.parameters())
    with temporary_hooks(convs, record, "forward_pre"), eval_mode(model):
        for channels in candidates:  # unknown models: the first input the model accepts
            order.clear()
            try:
                with torch.no_grad():
                    model(torch.zeros(1, channels, image_size, image_size, device=param.device,
                                      dtype=param.dtype))
                break
            except RuntimeError:
                if channels == candidates[-1]:
                    raise
    return [(convs[m], m) for m in order]


# Attribute names of the block that outputs the last feature maps: the zoo's and, in
# torchvision's classifiers, VGG, DenseNet, MobileNet, EfficientNet, ConvNeXt, SqueezeNet
# (features), ResNet and ResNeXt (layer4), Inception v3, GoogLeNet, RegNet, ShuffleNet.
FEATURE_BLOCKS = ("features", "layer4", "Mixed_7c", "inception5b", "trunk_output", "conv5")


def feature_block(model: nn.Module) -> tuple[str, nn.Module] | None:
    """``(name, module)`` of the block whose output the head pools, for torchvision and zoo
    classifiers; None for other models.

    The CAM papers weight the last convolutional feature maps, after their non-linearity, and
    pytorch-grad-cam recommends the last block's output. The last ``Conv2d`` is a poor stand-in
    where it is one branch of a concatenation (32 of DenseNet-121's 1024 channels), comes
    before a norm and activation (MobileNetV3) or is a residual block's skip projection, which
    runs after the block's body (the zoo ResNet's ``features.6.skip.0``): on random-init
    DenseNet-121 at 224 px, Grad-CAM on the last conv gave all-zero maps for 6 of 8 images,
    and 8 of 8 usable maps on ``features``.
    """
    if not type(model).__module__.startswith(("torchvision.models", "xai_gan.zoo")):
        return None
    name = next((name for name in FEATURE_BLOCKS
                 if isinstance(getattr(model, name, None), nn.Module)), None)
    if name is None:
        return None
    block = getattr(model, name)
    if isinstance(block, nn.Sequential) and len(block) > 1 and isinstance(
            block[-1], (nn.MaxPool2d, nn.AvgPool2d)):
        # VGG, AlexNet: the activation before the last pooling, twice as fine
        return f"{name}.{len(block) - 2}", block[-2]
    return name, block


def representation_layers(model: nn.Module, image_size: int | None = None,
                          in_channels: int | None = None) -> list[tuple[str, nn.Module]]:
    """The layers whose Grad-CAM maps make the CNN representation, shallow to deep: every
    ``Conv2d`` in forward order (:func:`conv_layers`), then the output of the block the head
    pools (:func:`feature_block`), so that the deepest map, condition map 0, is the map the
    Grad-CAM explainer draws by default."""
    return with_feature_block(model, conv_layers(model, image_size, in_channels))


def with_feature_block(model: nn.Module, convs: list) -> list:
    """``convs`` (``(name, Conv2d)`` pairs), then the block the head pools
    (:func:`feature_block`) unless it is a ``Conv2d`` itself, hence among them."""
    block = feature_block(model)
    return convs + [block] if block is not None and not isinstance(block[1], nn.Conv2d) else convs


def resolve_layers(model: nn.Module, layers) -> list[nn.Module]:
    """Modules from modules, names or ``(name, module)`` pairs."""
    modules = dict(model.named_modules())
    out = []
    for layer in layers:
        if isinstance(layer, str):
            if layer not in modules:
                raise ValueError(f"model has no layer named {layer!r}")
            layer = modules[layer]
        elif isinstance(layer, tuple):
            layer = layer[1]
        out.append(layer)
    return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
