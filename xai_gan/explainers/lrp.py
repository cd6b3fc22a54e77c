"""Layer-wise Relevance Propagation through zennit."""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn
from zennit.attribution import Gradient
from zennit.canonizers import NamedMergeBatchNorm
from zennit.composites import EpsilonPlusFlat
from zennit.torchvision import ResNetCanonizer

from .base import Explainer, register


def batchnorm_pairs(model: nn.Module) -> list[tuple[tuple[str], str]]:
    """(conv or linear name, batch-norm name) pairs where the norm directly follows the layer in
    a Sequential and normalises its outputs: the merges that leave the model's output as is.

    zennit's SequentialMergeBatchNorm pairs by position alone and breaks on models such as
    torchvision's DenseNet (a dense block followed by a norm over the concatenation).
    """
    pairs = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module.named_children())
        for (prev_name, prev), (bn_name, bn) in zip(children, children[1:]):
            if not isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)):
                continue
            leaves = [(n, m) for n, m in prev.named_modules() if not list(m.children())]
            leaf_name, leaf = leaves[-1]
            width = getattr(leaf, "out_channels", getattr(leaf, "out_features", None))
            if isinstance(leaf, (nn.Conv2d, nn.Linear)) and width == bn.num_features:
                prefix = f"{name}." if name else ""
                full_leaf = f"{prefix}{prev_name}" + (f".{leaf_name}" if leaf_name else "")
                pairs.append(((full_leaf,), f"{prefix}{bn_name}"))
    return pairs


def canonizers_for(model: nn.Module) -> list:
    """zennit canonizers: ResNet's (BN merge and a hookable skip sum) for torchvision ResNets,
    the verified batch-norm merges of :func:`batchnorm_pairs` otherwise."""
    import torchvision

    if isinstance(model, torchvision.models.ResNet):
        return [ResNetCanonizer()]
    pairs = batchnorm_pairs(model)
    return [NamedMergeBatchNorm(pairs)] if pairs else []


@register("lrp")
class LRP(Explainer):
    """LRP with zennit's EpsilonPlusFlat composite (flat rule on the first layer, z+ on the other
    convolutions, epsilon on dense layers), relevance summed over colour channels, positive part.

    Cost per image: 1 forward + 1 (modified) backward. Skip additions that are not modules
    (the zoo's residual blocks) pass relevance on as a plain gradient does.
    """

    def __init__(self, epsilon: float = 1e-6):
        self.epsilon = epsilon

    def explain(self, model, images, targets):
        composite = EpsilonPlusFlat(epsilon=self.epsilon, canonizers=canonizers_for(model))
        with Gradient(model=model, composite=composite) as attributor:
            _, relevance = attributor(images.detach().requires_grad_(True),
                                      lambda out: F.one_hot(targets, out.shape[1]).to(out))
        return relevance.sum(1).clamp_min(0)
