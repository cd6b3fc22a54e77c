"""Changes to a model that last one block: eval mode and hooks, each undone even on error."""
from __future__ import annotations

from contextlib import contextmanager

from torch import nn


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
