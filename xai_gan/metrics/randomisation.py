"""Randomisation: the model-parameter randomisation test (Adebayo et al., 2018).

An explanation of a model must change when the model's weights are destroyed; a map that
stays the same (an edge detector, say) is explaining the image, not the model.
"""
from __future__ import annotations

import copy
from typing import Callable, Iterator

import torch
from torch import nn

from ..devices import follows_model
from ..explainers import zero_maps_expected
from ..maps import pearson, spearman, ssim
from .registry import Explained, metric

SIMILARITIES = {"spearman": spearman, "ssim": ssim, "pearson": pearson}


def randomised_models(model: nn.Module, seed: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """Cascading randomisation from the top: yields ``(layer name, model)`` after resetting
    each layer with parameters in turn, the output layer first, so the last model yielded
    has every layer randomised.

    The input model is untouched (a copy is randomised). As in Quantus' MPRT, each layer is
    reset with ``reset_parameters()`` after seeding torch with ``seed + 1``, so for one seed
    both produce the same weights; the global random state is restored afterwards.
    """
    randomised = copy.deepcopy(model)
    layers = [(name, m) for name, m in randomised.named_modules() if hasattr(m, "reset_parameters")]
    for name, module in reversed(layers):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            module.reset_parameters()
        yield name, randomised


@follows_model
def model_parameter_randomisation(explain: Callable, model: nn.Module, images: torch.Tensor,
                                  targets: torch.Tensor, maps: torch.Tensor | None = None,
                                  similarity: str = "spearman", seed: int = 0,
                                  last_only: bool = False) -> dict[str, torch.Tensor]:
    """Similarity, per image, between the maps of the trained model and of each step of the
    cascading randomisation (lower means the maps depend on the weights).

    Returns ``{layer name: (B,) similarity}`` in cascade order (``last_only``: only the fully
    randomised model, one explanation per image instead of one per layer). The targets stay
    those of the trained model. Where randomisation leaves a constant map (a correlation is
    undefined) the similarity is 0; where the trained model's map is itself constant, NaN.
    """
    if similarity not in SIMILARITIES:
        raise ValueError(f"unknown similarity {similarity!r}; choose from {sorted(SIMILARITIES)}")
    compare = SIMILARITIES[similarity]
    if maps is None:
        maps = explain(model, images, targets)
    out = {}
    cascade = randomised_models(model, seed)
    if last_only:
        *_, cascade = cascade
        cascade = [cascade]
    informative = maps.flatten(1).std(1) > 0
    for name, randomised in cascade:  # the generator mutates one copy: explain at each step
        with zero_maps_expected():  # a randomised model's zero maps are expected here
            moved = explain(randomised, images, targets)
        score = compare(maps, moved)
        # a map made constant by randomisation shares nothing with the original: 0, not NaN
        out[name] = torch.where(score.isnan() & informative, 0.0, score)
    return out


def _randomisation(e: Explained, similarity_name: str, seed: int) -> torch.Tensor:
    (score,) = model_parameter_randomisation(e.explainer, e.model, e.images, e.classes, e.maps,
                                             similarity_name, seed, last_only=True).values()
    return score


@metric("randomisation_spearman", "randomisation", "lower", options={"seed": 0})
def _randomisation_spearman(e: Explained, seed: int) -> torch.Tensor:
    return _randomisation(e, "spearman", seed)


@metric("randomisation_ssim", "randomisation", "lower", options={"seed": 0})
def _randomisation_ssim(e: Explained, seed: int) -> torch.Tensor:
    return _randomisation(e, "ssim", seed)
