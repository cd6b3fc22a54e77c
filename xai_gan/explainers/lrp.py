"""Layer-wise Relevance Propagation through zennit."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from zennit.attribution import Gradient
from zennit.canonizers import AttributeCanonizer, NamedMergeBatchNorm
from zennit.composites import EpsilonPlusFlat
from zennit.layer import Sum
from zennit.rules import Pass
from zennit.torchvision import ResNetCanonizer

from ..efficientnet import MBConv as LiteMBConv
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


class ExactMergeBatchNorm(NamedMergeBatchNorm):
    """zennit's merge, with the emptied batch norm an exact identity.

    zennit leaves the norm computing ``x / sqrt(1 + eps)``: negligible at PyTorch's default
    eps (1e-5), but EfficientNets use 1e-3, and 49 such norms in a row moved the ImageNet
    EfficientNet-Lite0's logits by up to 0.19 (2e-5 with this fix). Setting the running
    variance to ``1 - eps`` makes the merged model compute what the model did."""

    @staticmethod
    def merge_batch_norm(modules, batch_norm):
        NamedMergeBatchNorm.merge_batch_norm(modules, batch_norm)
        batch_norm.running_var.data = torch.full_like(batch_norm.running_var, 1 - batch_norm.eps)


class _Gate(torch.autograd.Function):
    """``signal * gate`` forward; backward hands all relevance to the signal, none to the gate.
    Call it as :func:`_gated`.

    The gate (a squeeze-excitation scale, ConvNeXt's layer scale) is a per-channel weight: the
    epsilon rule on ``z = gate * signal`` gives the signal ``z / z``, all, of the relevance. A
    plain gradient would instead scale relevance by the gate (1e-6 for a fresh ConvNeXt) and
    leak ``relevance * signal`` into the gate's branch.
    """

    @staticmethod
    def forward(ctx, signal, gate):
        return signal * gate

    @staticmethod
    def backward(ctx, relevance):
        return relevance, None


def _gated(signal, gate):
    # The gate is detached so that its branch leaves the backward graph: zennit's rule hooks
    # on the squeeze-excitation convolutions would otherwise fire with no relevance (None).
    return _Gate.apply(signal, gate.detach())


def _residual_forward(self, input):
    """MBConv, FusedMBConv (EfficientNet) and InvertedResidual (MobileNet): the skip sum through
    a zennit ``Sum`` module, so relevance is split between the branches (Norm rule) rather than
    copied to both, as the gradient of ``+=`` would."""
    result = self.block(input)
    if not self.use_res_connect:
        return result
    result = getattr(self, "stochastic_depth", nn.Identity())(result)  # identity in eval
    return self.canonizer_sum(torch.stack([input, result], -1))


def _cnblock_forward(self, input):
    """ConvNeXt's block: layer scale as a gate, skip sum through ``Sum``."""
    result = self.stochastic_depth(_gated(self.block(input), self.layer_scale))
    return self.canonizer_sum(torch.stack([input, result], -1))


def _squeeze_excitation_forward(self, input):
    return _gated(input, self._scale(input))


def _block_canonizer(kinds: tuple, forward, skip_sum: bool) -> AttributeCanonizer:
    """A zennit canonizer swapping ``forward`` in for every module of ``kinds`` (and adding
    the ``canonizer_sum`` module it calls)."""
    def attributes(name, module):
        if not isinstance(module, kinds):
            return None
        return {"forward": forward.__get__(module),
                **({"canonizer_sum": Sum()} if skip_sum else {})}
    return AttributeCanonizer(attributes)


def canonizers_for(model: nn.Module) -> list:
    """zennit canonizers for ``model``.

    ResNets: zennit's ResNet canonizer (BN merge and a hookable skip sum). Other models: the
    verified batch-norm merges of :func:`batchnorm_pairs` (:class:`ExactMergeBatchNorm`),
    plus, for torchvision's EfficientNet, MobileNetV3 and ConvNeXt blocks and the package's
    EfficientNet-Lite0, hookable skip sums and squeeze-excitation / layer-scale gates that
    pass relevance to the signal (see :class:`_Gate`).
    """
    import torchvision
    from torchvision.models.convnext import CNBlock
    from torchvision.models.efficientnet import FusedMBConv, MBConv
    from torchvision.models.mobilenetv3 import InvertedResidual
    from torchvision.ops.misc import SqueezeExcitation

    if isinstance(model, torchvision.models.ResNet):
        return [ResNetCanonizer()]
    pairs = batchnorm_pairs(model)
    return ([ExactMergeBatchNorm(pairs)] if pairs else []) + [
        _block_canonizer((MBConv, FusedMBConv, InvertedResidual, LiteMBConv), _residual_forward,
                         True),
        _block_canonizer((CNBlock,), _cnblock_forward, True),
        _block_canonizer((SqueezeExcitation,), _squeeze_excitation_forward, False)]


def relative_stabilizer(epsilon: float):
    """zennit stabilizer adding ``epsilon`` times the RMS of each image's layer output to the
    denominators (with their sign).

    zennit's default adds a fixed 1e-6. Where activations are far below 1 (a random-init
    EfficientNet-B0's fall ~50x per stage to 1e-13 at the logits) that fixed term swamps
    ``z`` and every layer shrinks relevance by ``z / 1e-6`` until it underflows to exactly 0.
    Scaled to the layer, the rules do not depend on the activations' scale. The floor (the
    smallest normal float) keeps an all-zero layer from dividing by zero.
    """
    def stabilise(z):
        rms = z.detach().pow(2).flatten(1).mean(1).sqrt()
        shift = (epsilon * rms).clamp_min(torch.finfo(z.dtype).tiny)
        return z + ((z == 0).to(z) + z.sign()) * shift.view(-1, *[1] * (z.dim() - 1))
    return stabilise


@register("lrp")
class LRP(Explainer):
    """Layer-wise Relevance Propagation (Bach et al., PLoS ONE 2015) with zennit's
    EpsilonPlusFlat composite (flat rule on the first layer, z+ on the other convolutions,
    epsilon on dense layers), relevance summed over colour channels, positive part.

    Normalisation layers that are not merged into the layer before them (batch norm before a
    convolution, as in DenseNet; LayerNorm in ConvNeXt) pass relevance through unchanged, as
    zennit does for batch norm. Activations (ReLU, SiLU, GELU, hard-swish) pass it through too.

    Parameters
    ----------
    epsilon : float
        Stabiliser of every rule, relative to the RMS of the layer's output for each image
        (:func:`relative_stabilizer`).

    Raises
    ------
    ValueError
        When the relevance reaching the input is exactly zero for an image: it vanished on
        the way down (an operation the rules do not cover), so there is no map to return.

    Cost per image: 1 forward + 1 (modified) backward. Skip additions that are not modules
    (the zoo's residual blocks) pass relevance on as a plain gradient does.
    """

    def __init__(self, epsilon: float = 1e-6):
        self.epsilon = epsilon

    def relevance(self, model: nn.Module, images: torch.Tensor,
                  targets: torch.Tensor) -> torch.Tensor:
        """Raw (B, C, H, W) input relevance; one unit enters at each target logit, so each
        image's sum is near 1 where the rules conserve relevance (biases absorb some)."""
        stabilizer = relative_stabilizer(self.epsilon)
        composite = EpsilonPlusFlat(epsilon=stabilizer, stabilizer=stabilizer,
                                    layer_map=[(nn.LayerNorm, Pass())],
                                    canonizers=canonizers_for(model))
        # zennit needs a graph even when the caller runs under torch.no_grad.
        with torch.enable_grad(), Gradient(model=model, composite=composite) as attributor:
            _, relevance = attributor(images.detach().requires_grad_(True),
                                      lambda out: F.one_hot(targets, out.shape[1]).to(out))
        return relevance

    def explain(self, model, images, targets):
        relevance = self.relevance(model, images, targets)
        vanished = (relevance.flatten(1) == 0).all(1)
        if vanished.any():
            raise ValueError(
                f"LRP: no relevance reached the input for {int(vanished.sum())} of "
                f"{len(images)} images on {type(model).__name__}; it vanished in a layer or "
                f"operation the zennit rules here do not cover")
        return relevance.sum(1).clamp_min(0)
