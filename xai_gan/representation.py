"""The CNN representation: Grad-CAM of every conv layer and the cumulative condition maps.

Normalisation. Each per-layer Grad-CAM map is ``ReLU(sum_c w_c A_c)`` (``w_c`` the spatial
mean of the class score's gradient over channel ``c`` of the layer's output ``A``), upsampled
bilinearly to the image size and then min-max scaled to [0, 1], per map and per image, as
pytorch-grad-cam does. A map without spatial contrast (no positive evidence, or a layer whose
output is 1 x 1) becomes all zero, never NaN. Cumulative maps are plain means of these maps,
hence also in [0, 1].

The on-disk store of these maps is :mod:`xai_gan.store`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .devices import follows_model
from .hooks import activations_and_gradients
from .layers import representation_layers


@follows_model
def layer_gradcams(model: nn.Module, images: torch.Tensor, targets=None,
                   layers=None, size: int | None = None) -> torch.Tensor:
    """Grad-CAM maps of many layers from ONE forward and ONE backward pass.

    Parameters
    ----------
    model : nn.Module
        Run in eval mode for the call (its mode is restored). Its parameters may be frozen.
    images : (B, C, H, W) tensor
    targets : int, sequence of int or (B,) tensor, optional
        Class explained for each image; default the predicted class.
    layers : list, optional
        Modules, names or ``(name, module)`` pairs; default every conv layer in the order the
        forward pass runs them, then the output of the block the head pools (as
        :func:`xai_gan.layers.representation_layers` lists them).
    size : int, optional
        Side of the returned maps (default: the images'); the GAN's map size, which may be
        smaller than the CNN's input.

    Returns
    -------
    (B, L, size, size) float tensor in [0, 1], on the images' device (computed where the
    model is); see the module docstring for the normalisation.
    """
    _, activations, gradients, _ = activations_and_gradients(model, images, targets, layers)
    size = images.shape[-2:] if size is None else (size, size)
    maps = []
    for activation, gradient in zip(activations, gradients):
        weights = gradient.float().mean((2, 3), keepdim=True)
        cam = F.relu((weights * activation.float()).sum(1, keepdim=True))
        # flatness is decided at the layer's own resolution: upsampling a constant map leaves
        # rounding ripples that min-max scaling would blow up to [0, 1]
        flat = (cam.amax((2, 3)) == cam.amin((2, 3)))[:, :, None]
        cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)[:, 0]
        low, high = cam.amin((1, 2), keepdim=True), cam.amax((1, 2), keepdim=True)
        maps.append(torch.where(flat, 0, (cam - low) / torch.where(flat, 1, high - low)))
    return torch.stack(maps, 1).clamp(0, 1)


def cumulative_positions(num_layers: int, k: int = 8) -> list[int]:
    """Indices (into the deepest-first cumulative maps) that are kept.

    Position ``i`` of ``k`` is ``ceil(p_i * (L - 1) / 100)`` with ``p_i = ceil(100 i / (k-1))``;
    for k = 8 this is the paper's ``p in [0, 15, 29, 43, 58, 72, 86, 100]``. The first kept map
    is the deepest layer alone, the last the mean of all layers. When ``L < k`` some positions
    repeat, so the output always has k maps (one GAN can serve CNNs of any depth).
    """
    if num_layers < 1:
        raise ValueError("need at least one layer map")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k == 1:
        return [num_layers - 1]
    percentages = [math.ceil(100 * i / (k - 1)) for i in range(k)]
    return [math.ceil(p * (num_layers - 1) / 100) for p in percentages]


def cumulative_maps(maps: torch.Tensor, k: int = 8) -> torch.Tensor:
    """The paper's CNN representation from per-layer maps.

    Parameters
    ----------
    maps : (B, L, H, W) tensor, layers shallow to deep (as :func:`layer_gradcams` returns)
    k : int
        How many cumulative maps to keep (see :func:`cumulative_positions`).

    Returns
    -------
    (B, k, H, W) tensor: map j is the mean of the ``positions[j] + 1`` deepest layer maps.
    """
    if maps.ndim != 4:
        raise ValueError(f"maps must be (B, L, H, W), got shape {tuple(maps.shape)}")
    deepest_first = maps.flip(1)
    counts = torch.arange(1, maps.shape[1] + 1, device=maps.device, dtype=maps.dtype)
    running_mean = deepest_first.cumsum(1) / counts[None, :, None, None]
    return running_mean[:, cumulative_positions(maps.shape[1], k)]


__all__ = ["representation_layers", "layer_gradcams", "cumulative_positions", "cumulative_maps"]
