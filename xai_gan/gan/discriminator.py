"""A conditional PatchGAN discriminator: it judges (image, map) pairs patch by patch (pix2pix:
Isola et al., CVPR 2017)."""
from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """conv 4x4 stride 2 (x ``layers``) with LeakyReLU 0.2 and instance norm, then a 4x4 conv
    to one logit per patch (pix2pix). Input: the image and the map, concatenated (and the
    ``k`` condition maps too, when ``k`` > 0)."""

    def __init__(self, image_channels: int = 3, k: int = 0, width: int = 32, layers: int = 3):
        super().__init__()
        channels = image_channels + 1 + k
        body = [nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        for i in range(1, layers):
            c_in, c_out = width * 2 ** (i - 1), width * 2 ** i
            body += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                     nn.InstanceNorm2d(c_out, affine=True), nn.LeakyReLU(0.2)]
        # "same" size for the even kernel, padded as torch would (1 before, 2 after)
        body += [nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(width * 2 ** (layers - 1), 1, 4)]
        self.body = nn.Sequential(*body)
        self.k = k

    def forward(self, image: torch.Tensor, heat: torch.Tensor,
                conditions: torch.Tensor | None = None) -> torch.Tensor:
        parts = [image, heat] + ([conditions] if self.k else [])
        return self.body(torch.cat(parts, 1))
