"""The model's own input transform: a model fed [0, 1] images normalises them itself.

:func:`set_input_transform` installs the normalisation as a forward pre-hook;
:func:`model_input` shows what the model's first layer sees, with the hook switched off.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


class InputTransform(nn.Module):
    """Per-channel ``(x - mean) / std``: the normalisation a model's weights expect.

    Attached by :func:`set_input_transform` as a plain attribute, not a child module, so
    ``model.children()`` and ``state_dict()`` stay those of the bare model (the idiom
    ``nn.Sequential(*list(model.children())[:-1])`` still drops the head); the checkpoint's
    spec records mean and std. Its tensors go to the input's device on each call.
    """

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32)[:, None, None],
                             persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32)[:, None, None],
                             persistent=False)
        self.active = True

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self._stat(self.mean, images)) / self._stat(self.std, images)

    def inverse(self, inputs: torch.Tensor) -> torch.Tensor:
        """The [0, 1] images that :meth:`forward` turned into ``inputs``."""
        return inputs * self._stat(self.std, inputs) + self._stat(self.mean, inputs)

    @staticmethod
    def _stat(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return value.to(like.device, like.dtype)

    def extra_repr(self) -> str:
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


def _transform_input(model: nn.Module, args):
    transform = model.xai_gan_input
    if transform.active:
        return (transform(args[0]), *args[1:])
    return None


def set_input_transform(model: nn.Module, mean, std) -> nn.Module:
    """Make ``model`` normalise its own input: it is then fed images in [0, 1], like every
    dataset, store and explainer of the package."""
    if hasattr(model, "xai_gan_input"):
        raise ValueError("the model already has an input transform")
    object.__setattr__(model, "xai_gan_input", InputTransform(mean, std))  # not a child
    model.register_forward_pre_hook(_transform_input)
    return model


def input_transform(model: nn.Module) -> InputTransform | None:
    return getattr(model, "xai_gan_input", None)


@contextmanager
def model_input(model: nn.Module, images: torch.Tensor):
    """``images`` in [0, 1] as the model's first layer sees them, with the model's own
    transform switched off for the block: inside it, the model is what an unwrapped copy
    fed pre-normalised images would be. Nested blocks pass images through unchanged."""
    transform = input_transform(model)
    if transform is None or not transform.active:
        yield images
        return
    low, high = images.min().item(), images.max().item()
    if low < -0.1 or high > 1.1:  # the margin lets noise-perturbed images through
        raise ValueError(f"this model normalises its own input ({transform.extra_repr()}): "
                         f"pass images in [0, 1], not [{low:.3g}, {high:.3g}]")
    transform.active = False
    try:
        yield transform(images)
    finally:
        transform.active = True
