"""Spatial Feature Transform: a condition map modulates features per pixel (Wang et al., 2018).

``out = features * (1 + scale(c)) + shift(c)``; the last convolutions start at zero, so a new
SFT layer is exactly the identity and training moves it away only as far as it helps.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _head(cond_channels: int, hidden: int, channels: int) -> nn.Sequential:
    head = nn.Sequential(nn.Conv2d(cond_channels, hidden, 1), nn.LeakyReLU(0.1),
                         nn.Conv2d(hidden, channels, 1))
    nn.init.zeros_(head[-1].weight)
    nn.init.zeros_(head[-1].bias)
    return head


class SFT(nn.Module):
    """Scale and shift ``channels`` features from a ``cond_channels`` condition of the same
    spatial size; call with ``(features, condition)``."""

    def __init__(self, channels: int, cond_channels: int = 32, hidden: int = 32):
        super().__init__()
        self.scale = _head(cond_channels, hidden, channels)
        self.shift = _head(cond_channels, hidden, channels)

    def forward(self, features: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return features * (1 + self.scale(condition)) + self.shift(condition)


class ConditionNet(nn.Module):
    """Condition maps -> shared SFT condition: conv k4 -> 3 x conv 1x1 -> conv 1x1, all with
    LeakyReLU 0.1 (the paper's condition network, at full resolution)."""

    def __init__(self, in_channels: int, width: int = 128, out_channels: int = 32):
        super().__init__()
        layers = [nn.Conv2d(in_channels, width, 4), nn.LeakyReLU(0.1)]
        for _ in range(3):
            layers += [nn.Conv2d(width, width, 1), nn.LeakyReLU(0.1)]
        layers += [nn.Conv2d(width, out_channels, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        # "same" size for an even kernel, padded by hand as torch would (1 before, 2 after)
        # without its warning about the copy it makes
        return self.body(F.pad(maps, (1, 2, 1, 2)))


class SFTResBlock(nn.Module):
    """SFT -> conv 3x3 -> ReLU -> SFT -> conv 3x3, plus the input (SFTGAN's residual block)."""

    def __init__(self, channels: int, cond_channels: int = 32):
        super().__init__()
        self.sft0, self.sft1 = SFT(channels, cond_channels), SFT(channels, cond_channels)
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, features: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.conv0(self.sft0(features, condition)))
        return features + self.conv1(self.sft1(out, condition))


class ResBlock(nn.Module):
    """conv 3x3 -> ReLU -> conv 3x3, plus the input (LSFT's unconditioned blocks)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features + self.body(features)
