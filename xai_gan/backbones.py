"""The CNNs :func:`xai_gan.classifiers.build` takes from outside the zoo: any torchvision
classification model, and the full-size architectures defined in the package whose weights
install with it (EfficientNet-Lite0); the normalisation their weights were trained with, a new
head for other classes and a stem for grey input.
"""
from __future__ import annotations

import torch
from torch import nn

from . import efficientnet
from .layers import TORCHVISION_PREFIX, conv_layers, example_size

# Architectures defined here that are not zoo models: full-size, with offline weights
ARCHITECTURES = {"efficientnet_lite0": efficientnet.efficientnet_lite0}
OFFLINE_WEIGHTS = {"efficientnet_lite0": {"imagenet": (efficientnet.imagenet_state,
                                                        efficientnet.MEAN, efficientnet.STD)}}


def torchvision_model(arch: str, num_classes: int, in_channels: int, weights, load_weights: bool
                      ) -> tuple[nn.Module, str | None]:
    """torchvision's ``arch`` for ``num_classes`` and ``in_channels``, with ``weights`` loaded
    when ``load_weights`` is true, and the name its weights are recorded by (e.g.
    ``IMAGENET1K_V1``; None without weights)."""
    model = _torchvision(arch, num_classes, in_channels, weights if load_weights else None)
    if weights is not None and not load_weights and in_channels == 3 and hasattr(
            model, "transform_input"):
        model.transform_input = True  # what inception_v3's ImageNet weights switch on
    if weights is not None:
        weights = str(weights_enum(arch, weights)).split(".")[-1]  # e.g. IMAGENET1K_V1
    return model, weights


def weights_enum(arch: str, weights):
    """torchvision's weights ``weights`` (a name or the enum) of the model ``arch``."""
    import torchvision

    return torchvision.models.get_model_weights(arch).verify(weights)


def _for_channels(mean: list, std: list, in_channels: int) -> tuple[list, list]:
    if in_channels != 3:  # grey input: the colour statistics averaged
        mean, std = [sum(mean) / 3] * in_channels, [sum(std) / 3] * in_channels
    return mean, std


def weights_normalisation(arch: str, weights, in_channels: int) -> tuple[list, list]:
    """The mean and std the ``weights`` were trained with, averaged for grey input."""
    preset = weights_enum(arch, weights).transforms()
    return _for_channels(list(preset.mean), list(preset.std), in_channels)


def offline_normalisation(name: str, weights: str, in_channels: int) -> tuple[list, list]:
    """The mean and std the offline ``weights`` of ``name`` were trained with, averaged for
    grey input."""
    mean, std = OFFLINE_WEIGHTS[name][weights][1:]
    return _for_channels(list(mean), list(std), in_channels)


def offline_model(name: str, num_classes: int, in_channels: int, weights, load: bool
                  ) -> nn.Module:
    """An architecture defined here, with its offline ``weights`` loaded when asked."""
    if weights is not None and weights not in OFFLINE_WEIGHTS.get(name, {}):
        raise ValueError(f"{name} has no offline weights {weights!r}: choose from "
                         f"{sorted(OFFLINE_WEIGHTS.get(name, {}))}, or weights=None")
    if weights is None:
        return ARCHITECTURES[name](num_classes, in_channels)
    state = OFFLINE_WEIGHTS[name][weights][0]() if load else None
    model = ARCHITECTURES[name](len(state["head.bias"]) if load else num_classes, 3)
    if load:
        model.load_state_dict(state)
        if num_classes != model.head.out_features:  # a new head, for fine-tuning
            model.head = nn.Linear(model.head.in_features, num_classes)
    if in_channels != 3:
        _stem_for_channels(model, name, in_channels)
    return model


def _stem_for_channels(model: nn.Module, name: str, in_channels: int) -> None:
    """Replace a pretrained model's first convolution by one for ``in_channels`` inputs whose
    filters are the colour filters averaged: grey input gets the response its colour version
    would have got."""
    stem_name, stem = conv_layers(model, image_size=example_size(name))[0]
    new = type(stem)(in_channels, stem.out_channels, stem.kernel_size, stem.stride,
                     stem.padding, stem.dilation, stem.groups, stem.bias is not None)
    with torch.no_grad():
        new.weight.copy_(stem.weight.mean(1, keepdim=True).expand_as(new.weight)
                         * 3 / in_channels)
        if stem.bias is not None:
            new.bias.copy_(stem.bias)
    _set_module(model, stem_name, new)


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


def _torchvision(arch: str, num_classes: int, in_channels: int, weights) -> nn.Module:
    import torchvision

    if arch not in torchvision.models.list_models(torchvision.models):
        raise ValueError(f"torchvision has no classification model {arch!r}")
    if weights is None:
        model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    else:
        model = torchvision.models.get_model(arch, weights=weights)
        old = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1][1]
        for n, m in list(model.named_modules()):  # main and auxiliary heads
            if isinstance(m, nn.Linear) and m.out_features == old.out_features != num_classes:
                _set_module(model, n, nn.Linear(m.in_features, num_classes))
    if getattr(model, "aux_logits", False):  # inception_v3, googlenet: train the main head only
        model.aux_logits = False  # (inception's auxiliary head cannot even run below 299 px)
        for aux in ("AuxLogits", "aux1", "aux2"):
            if hasattr(model, aux):
                setattr(model, aux, None)
    if in_channels != 3:
        _stem_for_channels(model, TORCHVISION_PREFIX + arch, in_channels)
        if hasattr(model, "transform_input"):  # inception_v3's ImageNet re-normalisation
            model.transform_input = False
    return model
