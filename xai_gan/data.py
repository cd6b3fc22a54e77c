"""Datasets, all behind :func:`load`.

Every dataset is a :class:`torch.utils.data.Dataset` whose items are dicts::

    {"image": FloatTensor[C, H, W] in [0, 1], "label": int, "mask": FloatTensor[H, W]}

``mask`` (the class object's pixels) is present only where the dataset has one (``shapes``).
Every dataset also carries ``name``, ``classes``, ``channels`` and ``image_size`` attributes.

Nothing is downloaded unless the caller passes ``download=True``. :func:`sample_photos`
writes a small folder of real photos, offline, for the ``imagefolder`` loader.
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.path import Path as PolygonPath
from PIL import Image, ImageOps
from torch.utils.data import Dataset

SPLITS = ("train", "val", "test")
MIN_SIZE, MAX_SIZE = 32, 512  # 224 and 299 are what ImageNet-trained CNNs expect
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
    name : {"shapes", "fashion-mnist", "cifar10", "imagefolder", "imagenette"}
    split : {"train", "val", "test"}
        Splits never overlap. Where a source has no validation split, the last part of its
        training split is held out as ``val``.
    image_size : int, optional
        Side of the square images returned, 32 to 512 (default: 64 for shapes and
        imagefolder, 224 for imagenette, the source's native size otherwise).
    channels : {1, 3}, optional
        Convert grey to colour or colour to grey; default: the source's own.
    **kwargs
        Passed to the dataset: ``n``, ``seed`` (shapes); ``root``, ``download``, ``n`` (the
        split's first n images: fashion-mnist, cifar10); ``root``, ``val_fraction``,
        ``test_fraction``, ``seed`` (imagefolder); ``root``, ``size`` ("160px", "320px" or
        "full"), ``download``, ``val_fraction``, ``seed``, ``n`` (imagenette).

    Raises
    ------
    FileNotFoundError
        When a dataset's files are missing; the message says how to get them.
    ValueError
        For an unknown name, split, size or channel count, or an unusable image folder.
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


# Resizing a whole array once is fastest, but 224 px CIFAR-10 would take 7 GB: above this
# many bytes each image is resized when read instead (by the same code, so the same pixels).
RESIZE_UP_FRONT_BYTES = 2 ** 30


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
        resized_bytes = len(images) * self.image_size ** 2 * images.shape[-1]
        self.images = (_resize_all(images, self.image_size)
                       if resized_bytes <= RESIZE_UP_FRONT_BYTES else images)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        pixels = _resize_all(self.images[index][None], self.image_size)[0]
        image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255.0
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
    names = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    needed = names + ["batches.meta"]
    if download and not all((folder / name).exists() for name in needed):
        from torchvision.datasets import CIFAR10

        # torchvision keeps the URL and checksum; its archive holds both splits
        CIFAR10(str(root), train=split != "test", download=True)
    missing = [name for name in needed if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 files {missing} not found under {folder}. Download them (online, about "
            f"170 MB) with xg.data.load('cifar10', {split!r}, root={str(root)!r}, "
            f"download=True) (CLI: --dataset cifar10 --data-root {root} --download), or pass "
            f"root= a folder holding {CIFAR10_FOLDER}/.")
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


# --------------------------------------------------------------------------- image files

def _to_mode(img: Image.Image, channels: int) -> Image.Image:
    """``img`` as 8-bit RGB (or grey when ``channels == 1``), transparency composited on white."""
    if img.mode.startswith("I;16"):  # 16-bit grey: PIL's convert would clip it at 255
        img = Image.fromarray((np.asarray(img, np.float64) / 257).round().astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        # A plain convert would drop alpha and show whatever colour hides under it (often
        # black): white is what a viewer shows and what product photos are cut out on.
        img = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img)
    return img.convert("L" if channels == 1 else "RGB")


def read_image(path: str | Path, image_size: int, channels: int = 3) -> torch.Tensor:
    """Read an image file as a FloatTensor (channels, image_size, image_size) in [0, 1].

    Grey, palette and 16-bit images are converted, transparency is composited on white, an
    EXIF orientation is applied (as a photo viewer does), and the image is resized (anti-aliased bilinear) to a square, ignoring its aspect ratio.

    Raises
    ------
    OSError
        Naming the file, when it is not a readable image (corrupt, truncated, not an image).
    """
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)  # phone photos: upright, as a viewer shows them
            img = _to_mode(img, channels)  # convert() decodes: truncation shows up here
            img = img.resize((image_size, image_size), Image.BILINEAR)
    except (OSError, SyntaxError, EOFError, Image.DecompressionBombError) as err:
        raise OSError(f"cannot read image {path}: {err}. Delete or replace this file (or "
                      f"download / extract the dataset again).") from err
    pixels = np.asarray(img, np.uint8).reshape(image_size, image_size, -1)
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255.0


class FileDataset(Dataset):
    """Images read from files when accessed; ``samples`` is a list of (path, label)."""

    def __init__(self, samples, classes, *, name: str, image_size: int, channels: int | None):
        self.samples, self.classes, self.name = list(samples), tuple(classes), name
        self.image_size, self.channels = image_size, channels or 3

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        path, label = self.samples[index]
        return {"image": read_image(path, self.image_size, self.channels), "label": label}


def _subfolders(folder: Path) -> list[Path]:
    # hidden folders (.ipynb_checkpoints, .DS_Store, our own temp folders) are never classes
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _list_images(folder: Path) -> dict[str, list[Path]]:
    """Image files of each class folder of ``folder``; an empty class folder is an error."""
    by_class = {}
    for d in _subfolders(folder):
        # hidden files too: macOS leaves "._name.jpg" companions that are not images
        files = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
                       and not p.name.startswith(".") and p.is_file())
        if not files:
            raise ValueError(f"class folder {d} holds no images ({', '.join(IMAGE_EXTENSIONS)});"
                             f" add images to it or remove it")
        by_class[d.name] = files
    if not by_class:
        raise ValueError(f"no class folders with images under {folder}: expected "
                         f"{folder}/<class>/<image> (or train/, val/, test/ split folders)")
    return by_class


def _split(files: list, split: str, val_fraction: float, test_fraction: float, seed: int,
           label: str) -> list:
    """A seeded per-class split of ``files``; every split with a fraction > 0 gets >= 1 file."""
    order = np.random.default_rng(seed).permutation(len(files))
    n_test = max(1, round(len(files) * test_fraction)) if test_fraction > 0 else 0
    n_val = max(1, round(len(files) * val_fraction)) if val_fraction > 0 else 0
    if len(files) < n_test + n_val + 1:
        raise ValueError(
            f"class {label!r} has {len(files)} image(s), too few to split into train, val "
            f"(val_fraction={val_fraction}) and test (test_fraction={test_fraction}): add "
            f"images, lower the fractions, or give split folders (train/, val/, test/)")
    bounds = {"test": (0, n_test), "val": (n_test, n_test + n_val),
              "train": (n_test + n_val, len(files))}[split]
    return [files[i] for i in sorted(order[bounds[0]:bounds[1]])]


class ImageFolderDataset(FileDataset):
    """A class-per-folder tree (Food-11, Animals-10, ...).

    Split folders under ``root`` (``train``/``training``, ``val``/``validation``,
    ``test``/``evaluation``) are used where present; a missing ``val`` or ``test`` is carved
    from the training images (or from ``root`` itself when there are no split folders), per
    class, by a shuffle seeded by ``seed``. Classes (and labels) are the training folder's.
    """

    def __init__(self, split, image_size, channels, root=None, val_fraction=0.1,
                 test_fraction=0.1, seed=0):
        if root is None:
            raise ValueError("imagefolder needs root=<a folder of class folders>")
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"imagefolder root {root} does not exist")
        dirs = {s: next((root / d for d in SPLIT_FOLDERS[s] if (root / d).is_dir()), None)
                for s in SPLITS}
        if dirs["train"] is None and any(dirs.values()):
            raise ValueError(f"{root} has split folders but no training folder "
                             f"({' or '.join(SPLIT_FOLDERS['train'])})")
        pool = dirs["train"] or root
        classes = [d.name for d in _subfolders(pool)]
        if split != "train" and dirs[split]:
            by_class = _list_images(dirs[split])
            unknown = sorted(set(by_class) - set(classes))
            if unknown:
                raise ValueError(f"class folders {unknown} in {dirs[split]} have no "
                                 f"counterpart in {pool}")
        else:
            fractions = [0 if dirs[s] else f for s, f in (("val", val_fraction),
                                                          ("test", test_fraction))]
            by_class = {c: _split(files, split, *fractions, seed, c)
                        for c, files in _list_images(pool).items()}
        label = {c: i for i, c in enumerate(classes)}
        samples = [(p, label[c]) for c, files in by_class.items() for p in files]
        super().__init__(samples, classes, name="imagefolder", image_size=image_size or 64,
                         channels=channels)


# --------------------------------------------------------------------------- imagenette

# Folder that each Imagenette archive unpacks to (fast.ai's names; torchvision's layout is
# <root>/<folder>/{train,val}/<WordNet id>/<name>.JPEG).
IMAGENETTE_FOLDERS = {"full": "imagenette2", "320px": "imagenette2-320",
                      "160px": "imagenette2-160"}
IMAGENETTE_MB = {"full": 1500, "320px": 330, "160px": 95}


def _imagenette(split, image_size, channels, root="data/imagenette", size="160px",
                download=False, val_fraction=0.1, seed=0, n=None):
    if size not in IMAGENETTE_FOLDERS:
        raise ValueError(f"imagenette size must be one of {list(IMAGENETTE_FOLDERS)}, "
                         f"got {size!r}")
    source = "val" if split == "test" else "train"
    folder = Path(root) / IMAGENETTE_FOLDERS[size] / source
    if not download and not folder.is_dir():
        raise FileNotFoundError(
            f"Imagenette ({size}) not found: no folder {folder}. Download it (online, about "
            f"{IMAGENETTE_MB[size]} MB) with xg.data.load('imagenette', {split!r}, "
            f"root={str(root)!r}, size={size!r}, download=True) (CLI: --dataset imagenette "
            f"--data-root {root} --download).")
    from torchvision.datasets import Imagenette

    # loader=str: indexing yields (path, label) without decoding, so the files are listed by
    # torchvision's own rules; we read them with read_image like every other file dataset.
    listing = Imagenette(str(root), split=source, size=size, download=download, loader=str)
    samples = [listing[i] for i in range(len(listing))]
    if split != "test":  # Imagenette has no third split: val is held out of its train split
        by_label: dict[int, list] = {}
        for path, label in samples:
            by_label.setdefault(label, []).append(path)
        samples = [(p, label) for label, files in by_label.items()
                   for p in _split(files, split, val_fraction, 0, seed, listing.wnids[label])]
    # the listing is sorted by class: shuffle (seeded) so that n= takes a mix of classes
    samples = [samples[i] for i in np.random.default_rng(seed).permutation(len(samples))][:n]
    return FileDataset(samples, [names[0] for names in listing.classes], name="imagenette",
                       image_size=image_size or 224, channels=channels)


# --------------------------------------------------------------------------- sample photos

# Colour photos bundled in scikit-image's data folder (no download), one class each; their
# sources and licences are in data/README.md.
SAMPLE_PHOTOS = {"astronaut": "astronaut.png", "cat": "chelsea.png", "coffee": "coffee.png",
                 "rocket": "rocket.jpg"}
_SAMPLE_MANIFEST = ".sample_photos.json"


def _skimage_data_dir() -> Path:
    # found without importing skimage: its data fetchers may try to download
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.origin:
        raise ImportError("sample_photos reads the photos bundled with scikit-image: "
                          "`pip install scikit-image`")
    return Path(spec.origin).parent / "data"


def _sample_crop(photo: Image.Image, rng: np.random.Generator, size: int) -> Image.Image:
    """A random square crop (0.35 to 1 of the short side), maybe flipped, brightness +-15 %."""
    side = int(round(min(photo.size) * rng.uniform(0.35, 1.0)))
    x, y = (int(rng.integers(0, extent - side + 1)) for extent in photo.size)
    image = photo.crop((x, y, x + side, y + side)).resize((size, size), Image.BILINEAR)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pixels = np.asarray(image, np.float32) * rng.uniform(0.85, 1.15)
    return Image.fromarray(pixels.round().clip(0, 255).astype(np.uint8))


def sample_photos(out_dir: str | Path, per_class: int = 50, size: int = 224,
                  seed: int = 0) -> Path:
    """Write a small class-per-folder tree of real photos, for offline tests and tutorials.

    Each class is one photo bundled with scikit-image (:data:`SAMPLE_PHOTOS`); its images are
    seeded random crops of it. A stand-in to exercise real-photo code paths, not a benchmark:
    see data/README.md.

    Parameters
    ----------
    out_dir : str or Path
        Folder to create (``out_dir/<class>/<i>.jpg``); load it with
        ``load("imagefolder", split, root=out_dir)``.
    per_class : int
        Images per class (at least 3, so that train, val and test each get one).
    size : int
        Side of the square JPEGs, 32 to 512.
    seed : int
        The same seed gives the same files.

    Returns
    -------
    Path
        ``out_dir``. Nothing is written when it already holds this exact set.

    Raises
    ------
    ImportError
        When scikit-image is not installed.
    FileExistsError
        When ``out_dir`` exists, is not empty and was not written by this function.
    """
    check_image_size(size)
    if per_class < 3:
        raise ValueError(f"per_class must be at least 3, got {per_class}")
    out_dir = Path(out_dir)
    settings = {"format": 1, "photos": SAMPLE_PHOTOS, "per_class": per_class, "size": size,
                "seed": seed}
    manifest = out_dir / _SAMPLE_MANIFEST
    if manifest.exists() and json.loads(manifest.read_text()) == settings:
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()) and not manifest.exists():
        raise FileExistsError(f"{out_dir} exists and was not written by sample_photos: "
                              f"choose another out_dir")
    source = _skimage_data_dir()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # built beside out_dir, then renamed: a reader never sees a half-written tree
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    try:
        for c, (name, file) in enumerate(SAMPLE_PHOTOS.items()):
            with Image.open(source / file) as photo:
                photo = photo.convert("RGB")
            (tmp / name).mkdir()
            for i in range(per_class):
                rng = np.random.default_rng([seed, c, i])
                _sample_crop(photo, rng, size).save(tmp / name / f"{i:04d}.jpg", quality=90)
        (tmp / _SAMPLE_MANIFEST).write_text(json.dumps(settings))
        if out_dir.exists():  # empty, or an older sample_photos set: replace it
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    except OSError:
        if not (manifest.exists() and json.loads(manifest.read_text()) == settings):
            raise
        # another process wrote the same set first: keep its copy
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


_LOADERS = {"shapes": ShapesDataset, "fashion-mnist": _fashion_mnist, "cifar10": _cifar10,
            "imagefolder": ImageFolderDataset, "imagenette": _imagenette}
