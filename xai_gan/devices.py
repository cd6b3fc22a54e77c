"""Where a call runs: the device choice and the device rule, the batch size of a forward over
many images, bf16 autocast, and seeded randomness that leaves the caller's global RNG (and the
device's) alone.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

import torch
from torch import nn


def resolve_device(device=None) -> torch.device:
    """``device`` as given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters (else buffers) are; CPU for a model with neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def place(model: nn.Module, device=None) -> torch.device:
    """Where a call on ``model`` runs: ``device`` when given (the model is moved there), else
    where the model already is."""
    if device is None:
        return model_device(model)
    device = torch.device(device)
    model.to(device)
    return device


# pixels one CPU forward takes at a time: beyond it a CNN's activations fall out of the
# caches, and a 224 px EfficientNet-Lite0 runs 3x slower in batches of 256 than of 8
CPU_BATCH_PIXELS = 2 ** 18


def forward_batch(images: torch.Tensor, batch_size: int | None = None, cap: int = 256) -> int:
    """How many images one forward of many takes: ``batch_size`` when given, else ``cap`` on
    a GPU and, on a CPU, about :data:`CPU_BATCH_PIXELS` pixels' worth up to ``cap`` (64
    images at 64 px, 16 at 128, 8 from 182 px), which ran at least as fast as 256 for every
    CNN timed (``python benchmarks/metrics.py --batches``)."""
    if batch_size is not None:
        return batch_size
    if images.device.type != "cpu":
        return cap
    return min(cap, max(8, CPU_BATCH_PIXELS // (images.shape[-2] * images.shape[-1])))


def bf16_autocast(device: torch.device, enabled: bool | None = None):
    """bf16 autocast on a CUDA device that computes in bf16 natively (Ampere and later);
    off elsewhere, e.g. Colab's T4, where bf16 is emulated and slower than fp32."""
    if enabled is None:
        enabled = device.type == "cuda" and torch.cuda.is_bf16_supported(
            including_emulation=False)
    return torch.autocast(device.type, torch.bfloat16, enabled=enabled)


def _to(value, device: torch.device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
        return type(value)(_to(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    return value


def follows_model(fn):
    """The device rule, for every public call that takes a model and images: the images (the
    first tensor argument after the model) may be on any device; every tensor argument is
    moved to where the model is, the work runs there, and every tensor of the result comes
    back on the images' device."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        first = next(i for i, a in enumerate(args) if isinstance(a, nn.Module))
        model = args[first]
        images = next(a for a in (*args[first:], *kwargs.values()) if isinstance(a, torch.Tensor))
        device = model_device(model)
        return _to(fn(*_to(args, device), **_to(kwargs, device)), images.device)
    return wrapper


@contextmanager
def seeded(seed: int, device=None):
    """Run the block under ``torch.manual_seed(seed)`` and restore the global RNG after it.

    The CPU generator is always forked; so is ``device``'s when it is a CUDA device.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield
