"""The explainer interface and its registry."""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import torch
from torch import nn

from ..checks import as_targets, check_images
from ..devices import follows_model
from ..inputs import model_input
from ..scoped import eval_mode

REGISTRY: dict[str, type["Explainer"]] = {}


def register(name: str):
    """Class decorator: make an :class:`Explainer` available as ``get(name)``."""
    def decorate(cls):
        if name in REGISTRY:
            raise ValueError(f"explainer {name!r} is registered twice")
        REGISTRY[name] = cls
        cls.name = name
        return cls
    return decorate


def available() -> list[str]:
    return sorted(REGISTRY)


def baselines() -> list[str]:
    """The registered methods that need nothing trained (every one but ``gan``)."""
    return [name for name in available() if not REGISTRY[name].needs_training]


def quick() -> list[str]:
    """The baselines that explain a 224 px image in seconds on a CPU, references left out:
    every one but Score-CAM, SISE and Guided Feature Inversion (hundreds of passes each)."""
    return [name for name in baselines() if REGISTRY[name].quick
            and not REGISTRY[name].reference]


def is_reference(name: str) -> bool:
    """A registered map that knows nothing of the CNN (``random``, ``centre``, ``edge``): a row
    to compare against, never a ranking."""
    return getattr(REGISTRY.get(name), "reference", False)


def get(name: str, **options) -> "Explainer":
    """An explainer instance by name; ``options`` go to its constructor."""
    try:
        return REGISTRY[name](**options)
    except KeyError:
        hint = " (gan is registered by importing xai_gan.gan)" if name == "gan" else ""
        raise ValueError(f"unknown explainer {name!r}; choose from {available()}{hint}"
                         ) from None


class ZeroMapWarning(UserWarning):
    """An explainer gave all-zero maps: a real answer more often than not, never a silent one.
    Callers that expect them (a randomised model, a method used inside another) silence it
    with :func:`zero_maps_expected`."""


@contextmanager
def zero_maps_expected():
    """Silence :class:`ZeroMapWarning` inside the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZeroMapWarning)
        yield


def refuse_single_pixel(method: str, model: nn.Module, what: str, output: torch.Tensor,
                        images: torch.Tensor) -> None:
    """Raise ``ValueError`` when ``what`` (a layer's ``output``) is one pixel: every map built
    from it would be constant, which is never a silent answer here."""
    if output.shape[-2:].numel() < 2:
        raise ValueError(
            f"{method}: the {what} of {type(model).__name__} has a "
            f"{'x'.join(map(str, output.shape[-2:]))} output for "
            f"{images.shape[-2]}x{images.shape[-1]} px images, so every map would be "
            f"constant; use larger images or an earlier {what.replace(' ', '_')}")


class Explainer:
    """Base class: validates input, picks targets, normalises; subclasses override ``explain``.

    Calling an explainer returns a (B, H, W) float tensor in [0, 1] (each map divided by its
    maximum) on the images' device; the work runs where the model is. ``targets=None``
    explains the predicted class. The model is put in eval mode for the call and its mode
    restored.

    Images are in [0, 1]. A model that normalises its own input (see
    :func:`xai_gan.classifiers.build`) is explained exactly as an unwrapped copy fed
    pre-normalised images would be: ``explain`` sees the normalised images with the
    model's transform switched off, so perturbations happen in the model's input space.

    A non-finite map is an error. An all-zero map is a warning that names the method and
    the model: it is a real answer (no positive evidence for the class) more often than
    not, but never a silent one.

    Costs quoted in the subclasses are for given targets; ``targets=None`` adds one forward
    pass per image to find the predicted class.
    """

    name = "explainer"
    needs_training = False
    reference = False  # a map that knows nothing of the CNN, to compare against
    quick = True  # False: hundreds of passes per image, a minute or more at 224 px on a CPU

    def explain(self, model: nn.Module, images: torch.Tensor,
                targets: torch.Tensor) -> torch.Tensor:
        """Non-negative (B, H, W) relevance of ``targets`` (a (B,) long tensor)."""
        raise NotImplementedError

    @follows_model
    def __call__(self, model: nn.Module, images: torch.Tensor, targets=None) -> torch.Tensor:
        check_images(images)
        with eval_mode(model), model_input(model, images) as inputs:
            if targets is None:
                with torch.no_grad():
                    targets = model(inputs).argmax(1)
            targets = as_targets(targets, len(images), images.device)
            heat = self.explain(model, inputs, targets).float()
        if not torch.isfinite(heat).all():
            raise ValueError(f"{self.name} gave non-finite maps on {type(model).__name__}")
        heat = heat.clamp_min(0)
        peak = heat.amax((1, 2), keepdim=True)
        if (peak == 0).any():  # one message per method and model: shown once, not per batch
            warnings.warn(f"{self.name} gave all-zero maps on {type(model).__name__}: no "
                          f"positive evidence for the explained class in some images",
                          ZeroMapWarning, stacklevel=3)  # the caller of the explainer
        return heat / torch.where(peak > 0, peak, 1)
