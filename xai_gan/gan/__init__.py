"""The SFT-cGAN explainer: generators, a conditional discriminator, losses and training.

``build_generator("gsft" | "lsft" | "msft" | "linear", k, preset="tiny" | "paper")`` makes a
generator (``linear``: the baseline that mixes the condition maps; ``classes=n``: it also
reads the explained class: ``generator(image, conditions, classes)``);
``train(train_store, val_store, TrainConfig(...))`` trains one on representation stores
(``augment``: the paired symmetries it may train on; ``recipe``: the distillation term) and
raises :class:`GeneratorCollapsed` rather than return a generator that draws a constant map;
``load_generator(path)`` rebuilds it, and ``GANExplainer`` (registered as the explainer
``gan``) explains with it.
"""
from .augment import AUGMENTATIONS, augment
from .checkpoint import GENERATOR_FORMAT, generator_state, load_generator
from .collapse import GeneratorCollapsed
from .discriminator import PatchDiscriminator
from .explainer import GANExplainer
from .faithfulness import faithfulness_loss
from .generators import GENERATORS, INPUTS, PRESETS, MapGenerator, available, build_generator
from .losses import (LOSSES, RECIPES, GANLoss, correlation_loss, distillation_loss,
                     set_requires_grad)
from .sft import SFT, ConditionNet, ResBlock, SFTResBlock
from .objectives import Adversarial, Distillation, Faithfulness, Step, objectives
from .config import OBJECTIVES, RUN_FIELDS, TrainConfig, identity
from .train import TrainResult, train
from .validation import validate

__all__ = ["AUGMENTATIONS", "Adversarial", "ConditionNet", "Distillation", "Faithfulness",
           "GANExplainer", "GANLoss", "GENERATORS", "GENERATOR_FORMAT", "GeneratorCollapsed",
           "INPUTS", "LOSSES", "MapGenerator", "OBJECTIVES", "PRESETS", "PatchDiscriminator",
           "RECIPES", "RUN_FIELDS", "ResBlock", "SFT", "SFTResBlock", "Step", "TrainConfig",
           "TrainResult", "augment", "available", "build_generator", "correlation_loss",
           "distillation_loss", "faithfulness_loss", "generator_state", "identity",
           "load_generator", "objectives", "set_requires_grad", "train", "validate"]
