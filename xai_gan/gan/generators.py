"""Generators: (image, k condition maps) -> explanation map in [0, 1], chosen by name.

Every generator draws logits (:meth:`MapGenerator.draw`) and returns their sigmoid;
``generator(image, conditions, logits=True)`` returns the logits themselves, for training
losses that must keep a gradient where the sigmoid has saturated.

- ``gsft``: the paper's global SFT generator: one condition network over all k maps feeds
  every SFT layer of a deep residual trunk at full resolution.
- ``lsft``: the paper's local SFT generator: one (shared) condition network applied to each
  map separately, map i feeding the i-th SFT block, plain residual blocks in between.
- ``msft``: ours, a multi-scale encoder-decoder with SFT at 64, 32 and 16 px and the condition
  network run at half resolution; a fraction of GSFT's FLOPs for the same job.
- ``linear``: a baseline, not a GAN: a learned 1x1 combination of the k condition maps (the
  image is not read). What any generator must beat to show that it adds something.

``inputs="image"`` or ``"conditions"`` zeroes the other input of any generator: the ablation
that measures what the CNN representation (or the image) contributes. ``classes=n`` also
tells any generator which of n classes each map explains: ``generator(image, conditions,
classes)`` adds n one-hot planes after the k condition maps. A teacher that treats classes
differently (Score-CAM on some CNNs) is then learnable from the class, which the Grad-CAM maps
hide. :meth:`MapGenerator.forward` owns all of this: the shape checks, the class planes and
the zeroed input.

Presets: ``paper`` (the published depth and width, for 64 px and a GPU) and ``tiny`` (trains
on a 2-core CPU). Keyword arguments override a preset's entries.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from ..devices import seeded
from .sft import SFT, ConditionNet, ResBlock, SFTResBlock

PRESETS = {
    "gsft": {"paper": dict(width=64, blocks=32, cond_width=128, cond_channels=32),
             "tiny": dict(width=16, blocks=4, cond_width=32, cond_channels=16)},
    "lsft": {"paper": dict(width=64, cond_width=128, cond_channels=32),
             "tiny": dict(width=16, cond_width=32, cond_channels=16)},
    "msft": {"paper": dict(width=32, cond_width=64, cond_channels=32),
             "tiny": dict(width=16, cond_width=32, cond_channels=16)},
    "linear": {"paper": {}, "tiny": {}},
}
INPUTS = ("both", "image", "conditions")


class MapGenerator(nn.Module):
    """A generator: subclasses draw the map's logits from the planes they read; ``forward``
    prepares those planes (what :func:`build_generator` set: ``k`` maps, ``classes`` one-hot
    planes, ``reads`` both inputs or one) and returns the sigmoid, or the logits with
    ``logits=True``."""

    classes: int = 0
    reads: str = "both"

    def __init__(self, k: int, image_channels: int):
        super().__init__()
        self.k, self.image_channels = k, image_channels

    def forward(self, image: torch.Tensor, conditions: torch.Tensor,
                classes: torch.Tensor | None = None, logits: bool = False) -> torch.Tensor:
        """``image`` (B, C, S, S) in [0, 1], ``conditions`` (B, k, S, S) and, for a generator
        that reads the explained class, ``classes`` (B,)."""
        self._check(image, conditions)
        conditions = self._with_classes(conditions, classes)
        if self.reads == "conditions":
            image = torch.zeros_like(image)
        elif self.reads == "image":  # the class planes too: part of the CNN's representation
            conditions = torch.zeros_like(conditions)
        out = self.draw(image, conditions)
        return out if logits else torch.sigmoid(out)

    def draw(self, image: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        """The map's logits, (B, 1, H, W), from the planes this generator reads."""
        raise NotImplementedError

    def _check(self, image: torch.Tensor, conditions: torch.Tensor) -> None:
        if image.dim() != 4 or image.shape[1] != self.image_channels:
            raise ValueError(f"this generator reads ({self.image_channels}, S, S) images, got "
                             f"shape {tuple(image.shape)}")
        if conditions.dim() != 4 or conditions.shape[1] != self.k:
            raise ValueError(f"this generator reads {self.k} condition maps, got shape "
                             f"{tuple(conditions.shape)}")
        if conditions.shape[-2:] != image.shape[-2:]:
            raise ValueError(f"the image ({tuple(image.shape[-2:])}) and its condition maps "
                             f"({tuple(conditions.shape[-2:])}) must have one size")

    def _with_classes(self, conditions: torch.Tensor, classes: torch.Tensor | None
                      ) -> torch.Tensor:
        """``conditions`` and, for a generator that reads the class, its one-hot planes."""
        if not self.classes:
            return conditions
        if classes is None:
            raise ValueError(f"this generator draws the map of one of {self.classes} classes: "
                             "pass the class each map explains")
        classes = torch.as_tensor(classes, device=conditions.device).long()
        outside = classes[(classes < 0) | (classes >= self.classes)]
        if len(outside):
            raise ValueError(f"class {int(outside[0])} is outside the {self.classes} classes "
                             "this generator was trained on (a CNN with more classes?)")
        planes = F.one_hot(classes, self.classes).to(conditions.dtype)[:, :, None, None]
        return torch.cat([conditions, planes.expand(-1, -1, *conditions.shape[-2:])], 1)


class GSFTGenerator(MapGenerator):
    """Image -> conv; ``blocks`` SFT residual blocks; SFT -> conv; long skip; conv -> map."""

    def __init__(self, k: int, image_channels: int = 3, width: int = 64, blocks: int = 32,
                 cond_width: int = 128, cond_channels: int = 32):
        super().__init__(k, image_channels)
        self.condition = ConditionNet(k, cond_width, cond_channels)
        self.head = nn.Conv2d(image_channels, width, 3, padding=1)
        self.trunk = nn.ModuleList(SFTResBlock(width, cond_channels) for _ in range(blocks))
        self.trunk_sft = SFT(width, cond_channels)
        self.trunk_conv = nn.Conv2d(width, width, 3, padding=1)
        self.tail = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, 1, 3, padding=1))

    def draw(self, image: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        condition = self.condition(conditions)
        features = self.head(image)
        out = features
        for block in self.trunk:
            out = block(out, condition)
        out = features + self.trunk_conv(self.trunk_sft(out, condition))
        return self.tail(out)


class LSFTGenerator(MapGenerator):
    """2k - 1 blocks: SFT block i (fed condition map i, deepest first) between plain residual
    blocks; the condition network is shared by the k maps."""

    def __init__(self, k: int, image_channels: int = 3, width: int = 64, cond_width: int = 128,
                 cond_channels: int = 32):
        super().__init__(k, image_channels)
        self.condition = ConditionNet(1, cond_width, cond_channels)
        self.head = nn.Conv2d(image_channels, width, 3, padding=1)
        self.sft_blocks = nn.ModuleList(SFTResBlock(width, cond_channels) for _ in range(k))
        self.plain_blocks = nn.ModuleList(ResBlock(width) for _ in range(k - 1))
        self.tail = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, 1, 3, padding=1))

    def draw(self, image: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        b, k, h, w = conditions.shape
        per_map = self.condition(conditions.reshape(b * k, 1, h, w)).view(b, k, -1, h, w)
        features = self.head(image)
        out = features
        for i, block in enumerate(self.sft_blocks):
            out = block(out, per_map[:, i])
            if i < len(self.plain_blocks):
                out = self.plain_blocks[i](out)
        return self.tail(features + out)


class MSFTGenerator(MapGenerator):
    """Encoder-decoder over 3 scales (full, 1/2, 1/4) with an SFT residual block at each, the
    condition computed once at 1/2 resolution and resized per scale. The condition maps also
    reach the last 1x1 convolution directly, so a map close to one of them is easy to draw;
    that path starts as the mean of the k maps."""

    def __init__(self, k: int, image_channels: int = 3, width: int = 32, cond_width: int = 64,
                 cond_channels: int = 32):
        super().__init__(k, image_channels)
        w = width
        self.condition = ConditionNet(k, cond_width, cond_channels)
        self.enc0 = nn.Conv2d(image_channels, w, 3, padding=1)
        self.sft0 = SFTResBlock(w, cond_channels)
        self.enc1 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)
        self.sft1 = SFTResBlock(2 * w, cond_channels)
        self.enc2 = nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1)
        self.sft2 = SFTResBlock(4 * w, cond_channels)
        self.dec1 = nn.Conv2d(4 * w, 2 * w, 3, padding=1)
        self.sft_dec1 = SFTResBlock(2 * w, cond_channels)
        self.dec0 = nn.Conv2d(2 * w, w, 3, padding=1)
        self.out = nn.Conv2d(w + k, 1, 1)
        with torch.no_grad():  # start from the mean condition map: a sensible first guess
            self.out.weight[:, w:] = 4.0 / k
            self.out.bias.fill_(-2.0)

    def draw(self, image: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        size = image.shape[-2:]
        c1 = self.condition(F.avg_pool2d(conditions, 2))
        c0 = F.interpolate(c1, size=size, mode="bilinear", align_corners=False)
        c2 = F.avg_pool2d(c1, 2)
        e0 = self.sft0(F.leaky_relu(self.enc0(image), 0.1), c0)
        e1 = self.sft1(F.leaky_relu(self.enc1(e0), 0.1), c1)
        e2 = self.sft2(F.leaky_relu(self.enc2(e1), 0.1), c2)
        d1 = F.leaky_relu(self.dec1(F.interpolate(e2, scale_factor=2.0)), 0.1) + e1
        d1 = self.sft_dec1(d1, c1)
        d0 = F.leaky_relu(self.dec0(F.interpolate(d1, scale_factor=2.0)), 0.1) + e0
        return self.out(torch.cat([d0, conditions], 1))


class LinearGenerator(MapGenerator):
    """``sigmoid(w . conditions + b)`` per pixel; starts as the mean condition map, like MSFT's
    direct path."""

    def __init__(self, k: int, image_channels: int = 3):
        super().__init__(k, image_channels)
        self.mix = nn.Conv2d(k, 1, 1)
        with torch.no_grad():
            self.mix.weight.fill_(4.0 / k)
            self.mix.bias.fill_(-2.0)

    def draw(self, image: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        return self.mix(conditions)


GENERATORS = {"gsft": GSFTGenerator, "lsft": LSFTGenerator, "msft": MSFTGenerator,
              "linear": LinearGenerator}


def available() -> list[str]:
    return sorted(GENERATORS)


def build_generator(name: str, k: int = 8, preset: str = "tiny", image_channels: int = 3,
                    seed: int | None = 0, inputs: str = "both", classes: int = 0,
                    **overrides) -> nn.Module:
    """A generator by name and preset; ``overrides`` change preset entries (e.g. ``blocks``).
    ``inputs`` (``both``, ``image`` or ``conditions``) is what it reads; the other input is
    zeroed (``image``: the class planes too, they are part of the CNN's representation).
    ``classes`` > 0: it also reads the explained class, as that many one-hot planes after
    the k maps (pass them as ``generator(image, conditions, classes)``).

    The returned module carries ``spec``, everything needed to rebuild it from a checkpoint.
    """
    if inputs not in INPUTS:
        raise ValueError(f"unknown inputs {inputs!r}; choose from {INPUTS}")
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; choose from {available()}")
    if preset not in PRESETS[name]:
        raise ValueError(f"unknown preset {preset!r} for {name}; "
                         f"choose from {sorted(PRESETS[name])}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if classes < 0:
        raise ValueError(f"classes must be 0 (not read) or the number of classes, got {classes}")
    if classes and name == "lsft":  # it runs one block per condition plane
        raise ValueError("lsft gives each condition map a block of its own, so class planes "
                         "would add a block per class: use msft, gsft or linear with classes")
    options = {**PRESETS[name][preset], **overrides}
    with seeded(seed) if seed is not None else nullcontext():
        generator = GENERATORS[name](k + classes, image_channels, **options)
    generator.k, generator.classes, generator.reads = k, classes, inputs  # planes it is given
    generator.spec = dict(name=name, k=k, preset=preset, image_channels=image_channels,
                          **({} if inputs == "both" else {"inputs": inputs}),
                          **({"classes": classes} if classes else {}), **overrides)
    return generator
