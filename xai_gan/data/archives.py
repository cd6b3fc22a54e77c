"""Array datasets read from their distribution files: Fashion-MNIST (IDX) and CIFAR-10 (pickles)."""
from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np

from .common import ArrayDataset, holdout

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "XAI_GAN_FASHION_MNIST"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                       "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


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



def fashion_mnist(split="train", image_size=None, channels=None, *, root=None, download=False,
                  n=None, seed=0, val_size=5000) -> ArrayDataset:
    """Fashion-MNIST from its IDX files, as :func:`~xai_gan.data.load` describes; the last
    ``val_size`` training images are ``val``. ``seed`` is ignored: nothing is random."""
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
        rows = holdout(len(labels), split, val_size)
        images, labels = images[rows], labels[rows]
    images, labels = images[:n], labels[:n]
    return ArrayDataset(images, labels, name="fashion-mnist", classes=FASHION_MNIST_CLASSES,
                        image_size=image_size, channels=channels)


# --------------------------------------------------------------------------- cifar10

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_ROOT = "data/cifar10"


def cifar10(split="train", image_size=None, channels=None, *, root=None, download=False,
            n=None, seed=0, val_size=5000) -> ArrayDataset:
    """CIFAR-10 from its Python pickles under ``root`` (default :data:`CIFAR10_ROOT`), as
    :func:`~xai_gan.data.load` describes; the last ``val_size`` training images are ``val``.
    ``seed`` is ignored: nothing is random."""
    root = root or CIFAR10_ROOT
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
        rows = holdout(len(labels), split, val_size)
        images, labels = images[rows], labels[rows]
    images, labels = images[:n], labels[:n]
    return ArrayDataset(np.ascontiguousarray(images), labels, name="cifar10", classes=classes,
                        image_size=image_size, channels=channels)
