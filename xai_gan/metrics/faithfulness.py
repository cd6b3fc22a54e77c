"""Faithfulness: does the model's confidence follow the map?

Deletion removes pixels in order of importance and tracks the class probability (lower area is
better); insertion adds them to a baseline (higher is better) (Petsiuk, Das, Saenko, "RISE",
BMVC 2018). Every perturbed image of every
step is built as a mask over a per-pixel rank, so a whole curve is a few large batched
forwards rather than a Python loop over steps.
"""
from __future__ import annotations

import torch
from torch import nn

from ..maps import gaussian_blur
from ..devices import follows_model, forward_batch
from .registry import Explained, Options, metric

BASELINES = ("blur", "zero", "mean")


def baseline_images(images: torch.Tensor, baseline: str = "blur", sigma: float | None = None
                    ) -> torch.Tensor:
    """What a removed pixel becomes: ``blur`` (Gaussian, sigma = side / 8 unless given, as in
    RISE's insertion), ``zero``, or ``mean`` (each image's per-channel mean)."""
    if baseline == "blur":
        return gaussian_blur(images, sigma if sigma is not None else images.shape[-1] / 8)
    if baseline == "zero":
        return torch.zeros_like(images)
    if baseline == "mean":
        return images.mean((2, 3), keepdim=True).expand_as(images)
    raise ValueError(f"unknown baseline {baseline!r}; choose from {BASELINES}")


@follows_model
@torch.inference_mode()
def class_probability(model: nn.Module, images: torch.Tensor, targets: torch.Tensor,
                      batch_size: int | None = None, temperature: float = 1.0) -> torch.Tensor:
    """Softmax probability of ``targets`` (of the logits divided by ``temperature``) for each
    image, in batches of ``batch_size`` (default: :func:`~xai_gan.devices.forward_batch`)."""
    batch_size = forward_batch(images, batch_size)
    out = [(model(chunk).float() / temperature).softmax(1).gather(1, t[:, None])[:, 0]
           for chunk, t in zip(images.split(batch_size), targets.split(batch_size))]
    return torch.cat(out)


def pixel_ranks(maps: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) rank of each pixel by decreasing importance (0 = most important).

    Ties keep raster order (a stable sort), so the curve is deterministic.
    """
    flat = maps.flatten(1)
    order = flat.argsort(dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=maps.device).expand_as(order))
    return ranks.view(maps.shape[0], 1, *maps.shape[-2:])


@follows_model
@torch.inference_mode()
def perturbation_curve(model: nn.Module, images: torch.Tensor, maps: torch.Tensor,
                       targets: torch.Tensor, mode: str = "deletion", steps: int = 64,
                       baseline: str = "blur", batch_size: int | None = None) -> torch.Tensor:
    """Class probability after each of ``steps`` equal perturbation steps, shape (B, steps + 1).

    Column ``s`` has ``round(s * H * W / steps)`` pixels changed, all channels together:
    removed (replaced by the baseline) for ``deletion``, or revealed on the baseline for
    ``insertion``. Column 0 is the untouched image (deletion) or the pure baseline (insertion).
    Costs ``steps + 1`` forward passes per image, in batches of ``batch_size`` (default:
    :func:`~xai_gan.devices.forward_batch`).
    """
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}")
    if maps.shape[-2:] != images.shape[-2:] or len(maps) != len(images):
        raise ValueError(f"maps {tuple(maps.shape)} do not match images {tuple(images.shape)}")
    batch_size = forward_batch(images, batch_size)
    ranks = pixel_ranks(maps)
    base = baseline_images(images, baseline)
    counts = torch.linspace(0, ranks[0].numel(), steps + 1, device=images.device).round().long()
    image_index = torch.arange(len(images), device=images.device).repeat_interleave(steps + 1)
    step_index = torch.arange(steps + 1, device=images.device).repeat(len(images))
    probs = []
    for i, s in zip(image_index.split(batch_size), step_index.split(batch_size)):
        changed = ranks[i] < counts[s].view(-1, 1, 1, 1)
        if mode == "deletion":
            batch = torch.where(changed, base[i], images[i])
        else:
            batch = torch.where(changed, images[i], base[i])
        probs.append(model(batch).softmax(1).gather(1, targets[i][:, None])[:, 0].float())
    return torch.cat(probs).view(len(images), steps + 1)


def curve_auc(curve: torch.Tensor) -> torch.Tensor:
    """Area under each (B, S) curve, the x axis being the fraction of pixels in [0, 1]."""
    return torch.trapezoid(curve, dx=1 / (curve.shape[1] - 1), dim=1)


@follows_model
def deletion_auc(model, images, maps, targets, **options) -> torch.Tensor:
    """Area under the deletion curve (lower is better); options as :func:`perturbation_curve`."""
    return curve_auc(perturbation_curve(model, images, maps, targets, "deletion", **options))


@follows_model
def insertion_auc(model, images, maps, targets, **options) -> torch.Tensor:
    """Area under the insertion curve (higher is better); options as :func:`perturbation_curve`."""
    return curve_auc(perturbation_curve(model, images, maps, targets, "insertion", **options))


@follows_model
def confidence_change(model: nn.Module, images: torch.Tensor, maps: torch.Tensor,
                      targets: torch.Tensor, batch_size: int | None = None,
                      temperature: float = 1.0) -> tuple[torch.Tensor, ...]:
    """Per image: average drop % and increase in confidence (Chattopadhay et al., 2018).

    The explanation map multiplies the image (``image * map``). With ``Y`` the class
    probability on the image and ``O`` on the masked image, the drop is
    ``100 * max(0, Y - O) / Y`` and the increase is 100 when ``O > Y``, else 0; their means
    over images are the usual "Average Drop %" and "% Increase in Confidence".

    A CNN that gives its class a probability of 0.999 leaves ``O`` no room above ``Y``: the
    increase is then 0 for almost every map. ``temperature`` (the logits are divided by it;
    see :func:`softening_temperature`) brings the probabilities back where they can move.
    """
    before = class_probability(model, images, targets, batch_size, temperature)
    after = class_probability(model, images * maps[:, None], targets, batch_size, temperature)
    drop = 100 * (before - after).clamp_min(0) / before.clamp_min(1e-12)
    increase = 100 * (after > before).float()
    return drop, increase


@follows_model
@torch.no_grad()
def softening_temperature(model: nn.Module, images: torch.Tensor, confidence: float = 0.9,
                          batch_size: int | None = None) -> float:
    """The temperature at which the median top-class probability on ``images`` is
    ``confidence`` (1.0 when it is already at most that). Bisection on log T."""
    logits = torch.cat([model(chunk).float()
                        for chunk in images.split(forward_batch(images, batch_size))])

    def median_top(t: float) -> float:
        return (logits / t).softmax(1).amax(1).median().item()

    if median_top(1.0) <= confidence:
        return 1.0
    low, high = 0.0, 1.0  # log10 T
    while median_top(10 ** high) > confidence:
        high += 1.0
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if median_top(10 ** middle) > confidence else (low, middle)
    return 10 ** high


# deletion and insertion each run their own curve: the same defaults, each its own settings
CURVE = {"steps": 64, "baseline": "blur"}


@metric("deletion_auc", "faithfulness", "lower", options=CURVE)
def _deletion(e: Explained, steps: int, baseline: str) -> torch.Tensor:
    return deletion_auc(e.model, e.images, e.maps, e.classes, steps=steps, baseline=baseline)


@metric("insertion_auc", "faithfulness", "higher", options=CURVE)
def _insertion(e: Explained, steps: int, baseline: str) -> torch.Tensor:
    return insertion_auc(e.model, e.images, e.maps, e.classes, steps=steps, baseline=baseline)


# the softmax temperature (see softening_temperature) of the one computation both scores read
CONFIDENCE = Options(temperature=1.0)


def _confidence(e: Explained, temperature: float):
    return e.once("confidence_change",
                  lambda: confidence_change(e.model, e.images, e.maps, e.classes,
                                            temperature=temperature))


@metric("average_drop", "faithfulness", "lower", options=CONFIDENCE)
def _average_drop(e: Explained, temperature: float) -> torch.Tensor:
    return _confidence(e, temperature)[0]


@metric("increase_in_confidence", "faithfulness", "higher", options=CONFIDENCE)
def _increase_in_confidence(e: Explained, temperature: float) -> torch.Tensor:
    return _confidence(e, temperature)[1]
