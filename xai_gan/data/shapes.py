"""Synthetic shape scenes: one class-defining shape among distractors, with its mask."""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.path import Path as PolygonPath
from torch.utils.data import Dataset

from .common import SPLITS, convert

SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "star", "ring")
SHAPES_DEFAULT_N = {"train": 6000, "val": 1000, "test": 1000}


def _polygon(n: int, inner: float | None = None) -> np.ndarray:
    """Vertices of a regular n-gon (or an n-pointed star) of circumradius 1."""
    if inner is None:
        angles = np.arange(n) * 2 * np.pi / n
        return np.stack([np.sin(angles), -np.cos(angles)], 1)
    angles = np.arange(2 * n) * np.pi / n
    radii = np.where(np.arange(2 * n) % 2 == 0, 1.0, inner)
    return np.stack([radii * np.sin(angles), -radii * np.cos(angles)], 1)


_CROSS = np.array([[-.3, -1], [.3, -1], [.3, -.3], [1, -.3], [1, .3], [.3, .3], [.3, 1],
                   [-.3, 1], [-.3, .3], [-1, .3], [-1, -.3], [-.3, -.3]])
_POLYGONS = {"square": _polygon(4) * 0.95, "triangle": _polygon(3) * 1.1,
             "cross": _CROSS * 0.95, "star": _polygon(5, inner=0.45) * 1.1}


def _shape_mask(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside test of a unit-size shape at object coordinates (u, v)."""
    r = np.hypot(u, v)
    if kind == "circle":
        return r <= 0.85
    if kind == "ring":
        return (r <= 0.95) & (r >= 0.55)
    if kind == "bar":
        return (np.abs(u) <= 1.0) & (np.abs(v) <= 0.18)
    if kind == "blob":
        return np.hypot(u, v * 1.8) <= 0.9
    points = np.stack([u.ravel(), v.ravel()], 1)
    return PolygonPath(_POLYGONS[kind]).contains_points(points).reshape(u.shape)


def _draw(rng: np.random.Generator, kind: str, centre, radius: float, size: int,
          supersample: int = 3) -> np.ndarray:
    """Soft (anti-aliased) coverage in [0, 1] of a rotated shape on a size x size grid."""
    angle = rng.uniform(0, 2 * np.pi)
    coverage = np.zeros((size, size), np.float32)
    # Every shape fits in a circle of 1.15 radii: only that box is rasterised.
    lo = np.clip(np.floor(np.asarray(centre) - 1.15 * radius), 0, size).astype(int)
    hi = np.clip(np.ceil(np.asarray(centre) + 1.15 * radius), 0, size).astype(int)
    if (hi <= lo).any():
        return coverage
    ys = (np.arange(lo[1] * supersample, hi[1] * supersample) + 0.5) / supersample
    xs = (np.arange(lo[0] * supersample, hi[0] * supersample) + 0.5) / supersample
    y, x = np.meshgrid(ys, xs, indexing="ij")
    dx, dy = (x - centre[0]) / radius, (y - centre[1]) / radius
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = -np.sin(angle) * dx + np.cos(angle) * dy
    inside = _shape_mask(kind, u, v).astype(np.float32)
    h, w = hi[1] - lo[1], hi[0] - lo[0]
    coverage[lo[1]:hi[1], lo[0]:hi[0]] = inside.reshape(h, supersample, w, supersample).mean((1, 3))
    return coverage


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth colour texture: random low-frequency waves plus fine noise, (H, W, 3)."""
    y, x = np.mgrid[0:size, 0:size] / size
    image = np.empty((size, size, 3), np.float32)
    base = rng.uniform(0.25, 0.75, 3)
    for c in range(3):
        waves = sum(np.sin(2 * np.pi * (fx * x + fy * y) + phase)
                    for fx, fy, phase in rng.uniform([-3, -3, 0], [3, 3, 2 * np.pi], (3, 3)))
        image[..., c] = base[c] + 0.07 * waves
    return image + rng.normal(0, 0.04, image.shape).astype(np.float32)


def _colour(rng: np.random.Generator, away_from: np.ndarray) -> np.ndarray:
    """A random colour that differs clearly from ``away_from`` (contrast with the background)."""
    for _ in range(20):
        colour = rng.uniform(0, 1, 3)
        if np.abs(colour - away_from).max() > 0.35:
            return colour
    return 1.0 - away_from


def render_shape_scene(rng: np.random.Generator, label: int, size: int,
                       n_distractors: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Render one ``shapes`` scene: (uint8 image (H, W, 3), float32 object mask (H, W)).

    The class object is one of :data:`SHAPE_CLASSES`, drawn last so it is never covered;
    distractors are bars and blobs (no class shape), so only the object defines the label.
    """
    image = _background(rng, size)
    mean_bg = image.reshape(-1, 3).mean(0)
    radius = rng.uniform(0.16, 0.24) * size
    centre = rng.uniform(radius + 1, size - radius - 1, 2)
    for _ in range(rng.integers(1, n_distractors + 1)):
        kind = ("bar", "blob")[rng.integers(2)]
        alpha = _draw(rng, kind, rng.uniform(0, size, 2), rng.uniform(0.1, 0.2) * size, size)
        image = image * (1 - alpha[..., None]) + alpha[..., None] * _colour(rng, mean_bg)
    mask = _draw(rng, SHAPE_CLASSES[label], centre, radius, size)
    image = image * (1 - mask[..., None]) + mask[..., None] * _colour(rng, mean_bg)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8), mask


class ShapesDataset(Dataset):
    """Synthetic scenes: a textured background, distractors, and one class-defining shape.

    Item ``i`` of a split is a pure function of ``(seed, split, i, image_size)``; the three
    splits draw from independent random streams. Items are generated on first access and then
    kept in memory (about 12 kB each at 64 px). ``n`` scenes are made (default
    :data:`SHAPES_DEFAULT_N`); ``root`` and ``download`` are accepted, as by every loader of
    :func:`~xai_gan.data.load`, and ignored: nothing is read or downloaded.
    """

    name = "shapes"
    classes = SHAPE_CLASSES

    def __init__(self, split: str = "train", image_size: int | None = None, channels=None, *,
                 root=None, download: bool = False, n: int | None = None, seed: int = 0):
        self.split, self.seed = split, seed
        self.image_size = image_size or 64
        self.channels = channels or 3
        self.n = SHAPES_DEFAULT_N[split] if n is None else n
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.n

    def _scene(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index not in self._cache:
            rng = np.random.default_rng([self.seed, SPLITS.index(self.split), index])
            label = index % len(SHAPE_CLASSES)
            self._cache[index] = render_shape_scene(rng, label, self.image_size)
        return self._cache[index]

    def __getitem__(self, index: int) -> dict:
        if not -self.n <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} items")
        index %= self.n
        pixels, mask = self._scene(index)
        image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255.0
        return {"image": convert(image, self.image_size, self.channels),
                "label": index % len(SHAPE_CLASSES), "mask": torch.from_numpy(mask)}
