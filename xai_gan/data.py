"""Datasets, all behind :func:`load`.

Every dataset is a :class:`torch.utils.data.Dataset` whose items are dicts::

    {"image": FloatTensor[C, H, W] in [0, 1], "label": int, "mask": FloatTensor[H, W]}

``mask`` (the class object's pixels) is present only where the dataset has one (``shapes``).
Every dataset also carries ``name``, ``classes``, ``channels`` and ``image_size`` attributes.

Nothing is downloaded unless the caller passes ``download=True``.
"""
from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.path import Path as PolygonPath
from PIL import Image
from torch.utils.data import Dataset

SPLITS = ("train", "val", "test")
MIN_SIZE, MAX_SIZE = 32, 128
SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "star", "ring")
SHAPES_DEFAULT_N = {"train": 6000, "val": 1000, "test": 1000}
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "XAI_GAN_FASHION_MNIST"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                       "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SPLIT_FOLDERS = {"train": ("train", "training"), "val": ("val", "valid", "validation"),
                 "test": ("test", "evaluation", "eval")}


def available() -> list[str]:
    """The dataset names :func:`load` accepts."""
    return sorted(_LOADERS)


def load(name: str, split: str = "train", image_size: int | None = None, *,
         channels: int | None = None, **kwargs) -> Dataset:
    """Load a dataset by name.

    Parameters
    ----------
    name : {"shapes", "fashion-mnist", "cifar10", "imagefolder"}
    split : {"train", "val", "test"}
        Splits never overlap. Where a source has no validation split, the last part of its
        training split is held out as ``val``.
    image_size : int, optional
        Side of the square images returned, 32 to 128 (default: 64 for shapes, the source's
        native size otherwise, 64 for imagefolder).
    channels : {1, 3}, optional
        Convert grey to colour or colour to grey; default: the source's own.
    **kwargs
        Passed to the dataset: ``n``, ``seed`` (shapes); ``root``, ``download``, ``n`` (the
        split's first n images: fashion-mnist, cifar10); ``root``, ``val_fraction``,
        ``test_fraction``, ``seed`` (imagefolder).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if image_size is not None:
        check_image_size(image_size)
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    try:
        factory = _LOADERS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose from {available()}") from None
    return factory(split=split, image_size=image_size, channels=channels, **kwargs)


def check_image_size(image_size: int) -> None:
    """Raise ``ValueError`` unless ``image_size`` is an int in the supported range."""
    if not isinstance(image_size, int) or not MIN_SIZE <= image_size <= MAX_SIZE:
        raise ValueError(f"image_size must be an integer from {MIN_SIZE} to {MAX_SIZE}, "
                         f"got {image_size!r}")


def _convert(image: torch.Tensor, image_size: int, channels: int) -> torch.Tensor:
    """Resize a (C, H, W) image to ``image_size`` and convert it to ``channels``."""
    if image.shape[0] != channels:
        image = image.mean(0, keepdim=True) if channels == 1 else image.expand(3, -1, -1)
    if image.shape[-1] != image_size or image.shape[-2] != image_size:
        image = F.interpolate(image[None], size=(image_size, image_size), mode="bilinear",
                              align_corners=False, antialias=True)[0].clamp(0, 1)
    return image.contiguous()


def _resize_all(images: np.ndarray, size: int, chunk: int = 4096) -> np.ndarray:
    """Resize uint8 (N, H, W, C) images once, up front, rather than at every access."""
    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, images.shape[-1]), np.uint8)
    for start in range(0, len(images), chunk):
        part = torch.from_numpy(images[start:start + chunk]).permute(0, 3, 1, 2).float()
        part = F.interpolate(part, size=(size, size), mode="bilinear", align_corners=False,
                             antialias=True)
        out[start:start + chunk] = part.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return out


class ArrayDataset(Dataset):
    """Images held in memory as uint8 (N, H, W[, C]) with integer labels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, name: str, classes,
                 image_size: int | None, channels: int | None):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        images = images if images.ndim == 4 else images[..., None]
        self.labels = labels.astype(np.int64)
        self.name, self.classes = name, tuple(classes)
        self.channels = channels or images.shape[-1]
        self.image_size = image_size or images.shape[1]
        self.images = _resize_all(images, self.image_size)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        image = torch.from_numpy(self.images[index]).permute(2, 0, 1).float() / 255.0
        return {"image": _convert(image, self.image_size, self.channels),
                "label": int(self.labels[index])}


# --------------------------------------------------------------------------- shapes

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
    kept in memory (about 12 kB each at 64 px).
    """

    name = "shapes"
    classes = SHAPE_CLASSES

    def __init__(self, split: str = "train", image_size: int | None = None, channels=None,
                 n: int | None = None, seed: int = 0):
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
        return {"image": _convert(image, self.image_size, self.channels),
                "label": index % len(SHAPE_CLASSES), "mask": torch.from_numpy(mask)}


# --------------------------------------------------------------------------- fashion-mnist

def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {array.size} values")
    return array.reshape(shape).copy()  # frombuffer is read-only


def _holdout(n: int, split: str, val_size: int) -> slice:
    """Rows of a source training split used for our train or val split."""
    return slice(0, n - val_size) if split == "train" else slice(n - val_size, n)


def _fashion_mnist(split, image_size, channels, root=None, download=False, val_size=5000,
                   n=None):
    root = Path(root or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)
    source = "test" if split == "test" else "train"
    files = [root / f for f in FASHION_MNIST_FILES[source]]
    if download and not all(f.exists() for f in files):
        from torchvision.datasets import FashionMNIST

        FashionMNIST(str(root), train=source == "train", download=True)
        root = root / "FashionMNIST" / "raw"
        files = [root / f for f in FASHION_MNIST_FILES[source]]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST files not found: {', '.join(missing)}. Install them with "
            f"`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), point ${FASHION_MNIST_ENV} "
            f"or root= at a folder holding the IDX .gz files, or pass download=True.")
    images, labels = (read_idx(f) for f in files)
    if source == "train":
        rows = _holdout(len(labels), split, val_size)
        images, labels = images[rows], labels[rows]
    images, labels = images[:n], labels[:n]
    return ArrayDataset(images, labels, name="fashion-mnist", classes=FASHION_MNIST_CLASSES,
                        image_size=image_size, channels=channels)


# --------------------------------------------------------------------------- cifar10

CIFAR10_FOLDER = "cifar-10-batches-py"


def _cifar10(split, image_size, channels, root="data/cifar10", download=False, val_size=5000,
             n=None):
    folder = Path(root) / CIFAR10_FOLDER
    if download and not (folder / "test_batch").exists():
        from torchvision.datasets.utils import download_and_extract_archive

        download_and_extract_archive("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                                     str(root), md5="c58f30108f718f92721af3b95e74349a")
    names = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    missing = [name for name in names if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 batches {missing} not found under {folder}. Pass download=True "
            f"(needs internet), or root= a folder holding {CIFAR10_FOLDER}/.")
    images, labels = [], []
    for name in names:
        with open(folder / name, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        images.append(np.asarray(batch["data"], np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(batch["labels"])
    images, labels = np.concatenate(images).transpose(0, 2, 3, 1), np.asarray(labels)
    with open(folder / "batches.meta", "rb") as f:
        classes = pickle.load(f, encoding="latin1")["label_names"]
    if split != "test":
        rows = _holdout(len(labels), split, val_size)
        images, labels = images[rows], labels[rows]
    images, labels = images[:n], labels[:n]
    return ArrayDataset(np.ascontiguousarray(images), labels, name="cifar10", classes=classes,
                        image_size=image_size, channels=channels)


# --------------------------------------------------------------------------- imagefolder

def _list_images(folder: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            for d in sorted(folder.iterdir()) if d.is_dir()}


class ImageFolderDataset(Dataset):
    """A class-per-folder tree (Food-11, Animals-10, ...).

    If ``root`` has split folders (``train``/``training``, ``val``/``validation``,
    ``test``/``evaluation``) they are used; otherwise each class's files are split
    deterministically (by ``seed``) into train, val and test by the given fractions.
    """

    name = "imagefolder"

    def __init__(self, split, image_size, channels, root=None, val_fraction=0.1,
                 test_fraction=0.1, seed=0):
        if root is None:
            raise ValueError("imagefolder needs root=<a folder of class folders>")
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"imagefolder root {root} does not exist")
        split_dir = next((root / d for d in SPLIT_FOLDERS[split] if (root / d).is_dir()), None)
        by_class = _list_images(split_dir if split_dir else root)
        if not split_dir:
            by_class = {c: self._split(files, split, val_fraction, test_fraction, seed)
                        for c, files in by_class.items()}
        self.classes = tuple(by_class)
        self.samples = [(p, i) for i, c in enumerate(self.classes) for p in by_class[c]]
        if not self.samples:
            raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in class "
                             f"folders under {split_dir or root} for split {split!r}")
        self.image_size, self.channels = image_size or 64, channels or 3

    @staticmethod
    def _split(files, split, val_fraction, test_fraction, seed):
        order = np.random.default_rng(seed).permutation(len(files))
        n_test = int(round(len(files) * test_fraction))
        n_val = int(round(len(files) * val_fraction))
        bounds = {"test": (0, n_test), "val": (n_test, n_test + n_val),
                  "train": (n_test + n_val, len(files))}[split]
        return [files[i] for i in sorted(order[bounds[0]:bounds[1]])]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        path, label = self.samples[index]
        with Image.open(path) as img:
            img = img.convert("L" if self.channels == 1 else "RGB")
            img = img.resize((self.image_size, self.image_size), Image.BILINEAR)
            pixels = np.asarray(img, np.uint8).reshape(self.image_size, self.image_size, -1)
        return {"image": torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255.0,
                "label": label}


_LOADERS = {"shapes": ShapesDataset, "fashion-mnist": _fashion_mnist, "cifar10": _cifar10,
            "imagefolder": ImageFolderDataset}
