"""The terms a generator is trained with, one class each: distillation (draw the teacher's
map), adversarial (a conditional critic judges the map) and faithfulness (the frozen CNN's
class probability when the map's top pixels are kept or deleted).

Each term is called on one :class:`Step` and returns its weighted parts, named for the
training log; :func:`objectives` picks the terms a :class:`~xai_gan.gan.TrainConfig`
asks for. Validation scores the faithfulness term with the same class.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .faithfulness import faithfulness_loss
from .losses import GANLoss, correlation_loss, distillation_loss, set_requires_grad

# (name in the training log, weight, unweighted value): summed in order into the loss
Parts = list[tuple[str, float, torch.Tensor]]


@dataclass
class Step:
    """One training batch with the generator's output on it: ``images`` (B, C, S, S),
    ``teacher_map`` (B, 1, S, S), ``logits`` and ``fake`` (their sigmoid), and the store's
    ``batch`` (for ``pred``, the explained classes, and ``source``, each item's store)."""

    images: torch.Tensor
    teacher_map: torch.Tensor
    logits: torch.Tensor
    fake: torch.Tensor
    batch: dict


class Distillation:
    """The recipe's distillation term to the teacher's map
    (:func:`~xai_gan.gan.losses.distillation_loss`), and 1 - Pearson beside it when
    ``correlation_weight`` > 0."""

    def __init__(self, recipe: str, weight: float, correlation_weight: float = 0.0):
        self.recipe, self.weight, self.correlation_weight = recipe, weight, correlation_weight

    def __call__(self, step: Step) -> Parts:
        parts = [("distil", self.weight,
                  distillation_loss(step.logits, step.teacher_map, self.recipe, step.fake))]
        if self.correlation_weight:
            parts.append(("corr", self.correlation_weight,
                          correlation_loss(step.fake, step.teacher_map)))
        return parts


class Adversarial:
    """A conditional critic: :meth:`update_critic` trains it on teacher maps against the
    generator's (detached), then the term asks it to judge the generator's map real, with
    the critic frozen (its gradient goes to the generator alone)."""

    def __init__(self, discriminator: nn.Module, optimiser: torch.optim.Optimizer,
                 loss: str, weight: float, autocast, critic: nn.Module | None = None):
        self.discriminator, self.optimiser = discriminator, optimiser
        self.critic = critic or discriminator  # the DDP-wrapped critic where distributed
        self.criterion, self.weight, self.autocast = GANLoss(loss), weight, autocast

    def update_critic(self, step: Step) -> dict:
        set_requires_grad(self.discriminator, True)
        with self.autocast:
            loss = 0.5 * (self.criterion(self.critic(step.images, step.teacher_map), True)
                          + self.criterion(self.critic(step.images, step.fake.detach()), False))
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        set_requires_grad(self.discriminator, False)  # the generator step leaves it alone
        return {"d": loss.item()}

    def __call__(self, step: Step) -> Parts:
        judged = self.discriminator(step.images, step.fake)
        return [("g_adv", self.weight, self.criterion(judged, True, for_discriminator=False))]


class Faithfulness:
    """:func:`~xai_gan.gan.faithfulness.faithfulness_loss` through frozen classifiers: each
    item scored by its store's CNN (``classifiers[source]``, run at ``input_sizes[source]``),
    on the class it explains; the loss is the mean over items."""

    def __init__(self, classifiers: list[nn.Module], input_sizes: list[int],
                 weight: float = 1.0, deletion_weight: float = 0.0):
        if len(input_sizes) == 1:
            input_sizes = input_sizes * len(classifiers)
        self.classifiers, self.input_sizes = classifiers, input_sizes
        self.weight, self.deletion_weight = weight, deletion_weight

    def loss(self, images: torch.Tensor, heat: torch.Tensor, batch: dict,
             **options) -> torch.Tensor:
        """The mean loss of ``heat`` (B, 1, S, S) on ``images``; ``options`` go to
        :func:`~xai_gan.gan.faithfulness.faithfulness_loss` (e.g. ``saturation_weight``)."""
        options = {"deletion_weight": self.deletion_weight, **options}
        classes = batch["pred"].to(images.device)
        if len(self.classifiers) == 1:
            return faithfulness_loss(self.classifiers[0], images, heat, classes,
                                     input_size=self.input_sizes[0], **options)
        sources = batch["source"].to(images.device)
        total = 0.0
        for i, (model, size) in enumerate(zip(self.classifiers, self.input_sizes)):
            rows = (sources == i).nonzero()[:, 0]
            if len(rows):
                total = total + len(rows) * faithfulness_loss(
                    model, images[rows], heat[rows], classes[rows], input_size=size,
                    **options)
        return total / len(images)

    def __call__(self, step: Step) -> Parts:
        return [("faith", self.weight, self.loss(step.images, step.fake.float(), step.batch))]


def objectives(config, classifiers: list[nn.Module], input_sizes: list[int],
               adversarial: Adversarial | None) -> list:
    """The terms ``config`` (a :class:`~xai_gan.gan.TrainConfig`) trains with, in the
    order their losses are summed: distillation (objective ``distil`` or ``both``), the
    ``adversarial`` term when the run has a critic, faithfulness (``faithful`` or ``both``)."""
    terms = []
    if config.uses_teacher:
        terms.append(Distillation(config.recipe, config.distil_weight,
                                  config.correlation_weight))
    if adversarial is not None:
        terms.append(adversarial)
    if config.uses_classifier:
        terms.append(Faithfulness(classifiers, input_sizes, config.faithfulness_weight,
                                  config.deletion_weight))
    return terms
