"""Small CNNs for 32-128 px inputs, one per architecture family, all trainable on a laptop CPU.

Each ends in global average pooling and a linear layer, so any input size from 32 px works.
``vgg`` is plain (no skips), ``resnet`` has residual skips, ``mobilenet`` inverted residual
depthwise-separable blocks, ``densenet`` concatenating dense blocks and ``inception`` parallel
branches.
"""
from __future__ import annotations

import torch
from torch import nn


def conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1,
            act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Classifier(nn.Module):
    """``features`` then global average pooling and a linear head."""

    def __init__(self, features: nn.Module, width: int, num_classes: int):
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


def vgg(num_classes: int, in_channels: int) -> Classifier:
    widths = [(24, 24), (48, 48), (96, 96), (128, 128)]
    layers, cin = [conv_bn(in_channels, 24, stride=2)], 24
    for i, block in enumerate(widths):
        for cout in block:
            layers.append(conv_bn(cin, cout))
            cin = cout
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
    return Classifier(nn.Sequential(*layers), cin, num_classes)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, stride=stride), conv_bn(cout, cout, act=False))
        self.skip = (nn.Identity() if stride == 1 and cin == cout
                     else conv_bn(cin, cout, kernel=1, stride=stride, act=False))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.body(x) + self.skip(x))


def resnet(num_classes: int, in_channels: int) -> Classifier:
    layers, cin = [conv_bn(in_channels, 32, stride=2)], 32
    for cout, stride in [(32, 1), (48, 2), (48, 1), (96, 2), (96, 1), (160, 2)]:
        layers.append(BasicBlock(cin, cout, stride))
        cin = cout
    return Classifier(nn.Sequential(*layers), cin, num_classes)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int = 4):
        super().__init__()
        hidden = cin * expand
        self.body = nn.Sequential(conv_bn(cin, hidden, kernel=1),
                                  conv_bn(hidden, hidden, stride=stride, groups=hidden),
                                  conv_bn(hidden, cout, kernel=1, act=False))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


def mobilenet(num_classes: int, in_channels: int) -> Classifier:
    layers, cin = [conv_bn(in_channels, 16, stride=2)], 16
    for cout, stride, expand in [(24, 2, 3), (24, 1, 4), (48, 2, 4), (48, 1, 4), (96, 2, 4),
                                 (96, 1, 4)]:
        layers.append(InvertedResidual(cin, cout, stride, expand))
        cin = cout
    layers.append(conv_bn(cin, 192, kernel=1))
    return Classifier(nn.Sequential(*layers), 192, num_classes)


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, 2 * growth, kernel=1), conv_bn(2 * growth, growth))

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


def densenet(num_classes: int, in_channels: int, growth: int = 16) -> Classifier:
    layers, cin = [conv_bn(in_channels, 32, stride=2)], 32
    for block in range(3):
        for _ in range(3):
            layers.append(DenseLayer(cin, growth))
            cin += growth
        if block < 2:
            layers += [conv_bn(cin, cin // 2, kernel=1), nn.AvgPool2d(2)]
            cin //= 2
    return Classifier(nn.Sequential(*layers), cin, num_classes)


class InceptionBlock(nn.Module):
    """Parallel 1x1, 3x3, double-3x3 and pooled branches, concatenated."""

    def __init__(self, cin: int, branch: int):
        super().__init__()
        self.b1 = conv_bn(cin, branch, kernel=1)
        self.b3 = nn.Sequential(conv_bn(cin, branch, kernel=1), conv_bn(branch, branch))
        self.b5 = nn.Sequential(conv_bn(cin, branch // 2, kernel=1),
                                conv_bn(branch // 2, branch), conv_bn(branch, branch))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn(cin, branch, kernel=1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


def inception(num_classes: int, in_channels: int) -> Classifier:
    layers, cin = [conv_bn(in_channels, 32, stride=2)], 32
    for branch, pool in [(16, True), (24, False), (32, True), (48, False)]:
        layers.append(InceptionBlock(cin, branch))
        cin = 4 * branch
        if pool:
            layers.append(nn.MaxPool2d(2))
    return Classifier(nn.Sequential(*layers), cin, num_classes)


ZOO = {"vgg": vgg, "resnet": resnet, "mobilenet": mobilenet, "densenet": densenet,
       "inception": inception}
