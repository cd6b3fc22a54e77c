"""The SFT-cGAN explainer: generators, a conditional discriminator, losses and training.

``build_generator("gsft" | "lsft" | "msft", k, preset="tiny" | "paper")`` makes a generator;
``train(train_store, val_store, TrainConfig(...))`` trains one on representation stores.
"""
from .discriminator import PatchDiscriminator
from .faithfulness import faithfulness_loss
from .generators import GENERATORS, PRESETS, available, build_generator
from .losses import LOSSES, GANLoss, set_requires_grad
from .sft import SFT, ConditionNet, ResBlock, SFTResBlock
from .train import GENERATOR_FORMAT, TrainConfig, TrainResult, train, validate

__all__ = ["ConditionNet", "GANLoss", "GENERATORS", "GENERATOR_FORMAT", "LOSSES", "PRESETS",
           "PatchDiscriminator", "ResBlock", "SFT", "SFTResBlock", "TrainConfig", "TrainResult",
           "available", "build_generator", "faithfulness_loss", "set_requires_grad", "train",
           "validate"]
