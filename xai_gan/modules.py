"""What the package needs to know about any ``nn.Module``, and nothing above it.

Device choice, conv layers in forward order, eval mode for a call, hooks that never outlive
their call, and seeded randomness that leaves the caller's global RNG alone. Every other
module may import this one; it imports only torch.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

TORCHVISION_PREFIX = "torchvision:"


def resolve_device(device=None) -> torch.device:
    """``device`` as given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextmanager
def eval_mode(module: nn.Module):
    """Put ``module`` in eval mode for the block; its own mode is restored, even on error."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@contextmanager
def temporary_hooks(modules, hook, kind: str = "forward"):
    """Register ``hook`` (``kind`` ``"forward"`` or ``"forward_pre"``) on every module for the
    block; the hook is called as ``hook(module, *hook_args)``. Removed even on error."""
    handles = [getattr(m, f"register_{kind}_hook")(hook) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


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


def example_size(name: str) -> int:
    """Side of the example input that :func:`conv_layers` runs through a model named
    ``name`` (its ``xai_gan_spec`` name): 64 for zoo models, 299 for inception_v3, else 224."""
    if not name:
        return 224
    if name.startswith(TORCHVISION_PREFIX):
        return 299 if name[len(TORCHVISION_PREFIX):].startswith("inception") else 224
    return 64


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
