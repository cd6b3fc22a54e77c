"""One hooked forward and backward pass: the activations and gradients of many layers."""
from __future__ import annotations

import torch
from torch import nn

from .checks import as_targets, check_images
from .layers import resolve_layers, with_feature_block
from .scoped import eval_mode, temporary_hooks


def activations_and_gradients(model: nn.Module, images: torch.Tensor, targets=None,
                              layers=None):
    """Outputs of ``layers`` and the gradients of the target class scores with respect to them.

    One forward and one backward pass, in eval mode (the model's mode is restored), hooks
    removed even when an error is raised; frozen models and ``torch.no_grad`` callers work.
    ``layers=None`` takes the layers of :func:`xai_gan.layers.representation_layers` (every
    ``Conv2d``, then the block the head pools) in the order the forward pass runs them,
    recorded during this very pass.

    Returns
    -------
    modules : list of nn.Module (forward order, or the given order)
    activations, gradients : lists of (B, C, h, w) tensors, detached, matching ``modules``
    targets : (B,) long tensor (default: the predicted classes)
    """
    check_images(images)
    if layers is not None:
        modules = resolve_layers(model, layers)
    else:
        # unordered: the hooks record the forward order; the block's fires after its convs
        convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        modules = [m for _, m in with_feature_block(model, convs)] if convs else []
    if not modules:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer")
    order: list[nn.Module] = []
    activations: dict[nn.Module, torch.Tensor] = {}
    gradients: dict[nn.Module, torch.Tensor] = {}

    def hook(module, args, output):
        if module in activations:  # a module run twice: keep its first call
            return
        order.append(module)
        activations[module] = output.detach()
        if output.requires_grad:
            output.register_hook(lambda grad: gradients.__setitem__(module, grad.detach()))

    with temporary_hooks(modules, hook), eval_mode(model), torch.enable_grad():
        x = images.detach().clone().requires_grad_(True)  # a graph even if frozen
        logits = model(x)
        targets = as_targets(logits.argmax(1) if targets is None else targets,
                             len(images), logits.device)
        torch.autograd.grad(logits.gather(1, targets[:, None]).sum(), x)
    if layers is not None:
        order = modules
    missing = [i for i, m in enumerate(order) if m not in gradients]
    if missing:
        raise ValueError(f"layers {missing} did not run in the forward pass or do not affect "
                         f"the class score")
    return (order, [activations[m] for m in order], [gradients[m] for m in order], targets)
