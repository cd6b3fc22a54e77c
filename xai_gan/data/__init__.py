"""Datasets, all behind :func:`load`.

Every dataset is a :class:`torch.utils.data.Dataset` whose items are dicts::

    {"image": FloatTensor[C, H, W] in [0, 1], "label": int, "mask": FloatTensor[H, W]}

``mask`` (the class object's pixels) is present only where the dataset has one: ``shapes``
(the shape's pixels) and ``photos`` (its hand-drawn object boxes).
Every dataset also carries ``name``, ``classes``, ``channels`` and ``image_size`` attributes.

Nothing is downloaded unless the caller passes ``download=True``. ``photos`` are real photos
with ImageNet classes and boxes, offline; :func:`sample_photos` writes a small folder of real
photos, offline, for the ``imagefolder`` loader.
"""
from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from .archives import (FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, FASHION_MNIST_ENV,
                       FASHION_MNIST_FILES, read_idx)
from .common import MAX_SIZE, MIN_SIZE, SPLITS, ArrayDataset, check_image_size
from .files import IMAGENETTE_FOLDERS, FileDataset, ImageFolderDataset, read_image
from .photos import SAMPLE_PHOTOS, PhotosDataset, imagenet_classes, sample_photos
from .shapes import SHAPE_CLASSES, ShapesDataset, render_shape_scene
from . import archives, files, photos, shapes


def available() -> list[str]:
    """The dataset names :func:`load` accepts."""
    return sorted(_LOADERS)


def load(name: str, split: str | None = None, image_size: int | None = None, *,
         channels: int | None = None, root: str | Path | None = None, download: bool = False,
         n: int | None = None, seed: int = 0, **options) -> Dataset:
    """Load a dataset by name.

    Every loader takes the same common arguments (``split`` to ``seed``) and its own
    ``options``; one that means nothing to a source is accepted and ignored, as listed.

    Parameters
    ----------
    name : {"shapes", "fashion-mnist", "cifar10", "imagefolder", "imagenette", "photos"}
    split : {"train", "val", "test"}, optional
        Default ``"train"``, except for ``photos``, an evaluation set with only ``"test"``.
        Splits never overlap. Where a source has no validation split, the last part of its
        training split is held out as ``val``.
    image_size : int, optional
        Side of the square images returned, 32 to 512 (default: 64 for shapes and
        imagefolder, 224 for imagenette and photos, the source's native size otherwise).
    channels : {1, 3}, optional
        Convert grey to colour or colour to grey; default: the source's own.
    root : str or Path, optional
        The folder the files are read from. None means the source's default: the
        ``$XAI_GAN_FASHION_MNIST`` folder, else the system's, for fashion-mnist;
        ``data/cifar10`` and ``data/imagenette``; imagefolder has none and needs it. Ignored
        by shapes (generated) and photos (bundled with installed packages).
    download : bool
        Allow fashion-mnist, cifar10 and imagenette to fetch missing files (online). A no-op
        for the others: shapes is generated, photos are bundled and an image folder is the
        user's own.
    n : int, optional
        The split's first ``n`` images (default: all; shapes, generated, makes 6,000 train
        and 1,000 val and test scenes). An image folder lists its images class by class, so
        its first ``n`` come from its first classes; Imagenette's split is shuffled (by
        ``seed``) first.
    seed : int
        Seed of the source's random choices: shapes' scenes, and the shuffles that split an
        image folder and Imagenette. Ignored by fashion-mnist, cifar10 and photos, which have
        none.
    **options
        The source's own: ``val_size`` (fashion-mnist, cifar10: training images held out as
        ``val``, default 5,000); ``val_fraction``, ``test_fraction`` (imagefolder, per class,
        default 0.1 each, where it has no such split folder); ``size`` ("160px", "320px" or
        "full") and ``val_fraction`` (imagenette); ``names`` (photos: a subset by name).

    Raises
    ------
    FileNotFoundError
        When a dataset's files are missing; the message says how to get them.
    ValueError
        For an unknown name, split, size or channel count, a negative ``n``, or an
        unusable image folder.
    """
    split = split or ("test" if name == "photos" else "train")
    _check(split, image_size, channels, n)
    try:
        factory = _LOADERS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose from {available()}") from None
    return factory(split=split, image_size=image_size, channels=channels, root=root,
                   download=download, n=n, seed=seed, **options)


def _check(split: str, image_size: int | None, channels: int | None, n: int | None) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if image_size is not None:
        check_image_size(image_size)
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if n is not None and n < 0:
        raise ValueError(f"n must be at least 0, got {n}")


_LOADERS = {"shapes": ShapesDataset, "fashion-mnist": archives.fashion_mnist,
            "cifar10": archives.cifar10, "imagefolder": ImageFolderDataset,
            "imagenette": files.imagenette, "photos": PhotosDataset}

__all__ = ["ArrayDataset", "FASHION_MNIST_CLASSES", "FASHION_MNIST_DIR", "FASHION_MNIST_ENV",
           "FASHION_MNIST_FILES", "FileDataset", "IMAGENETTE_FOLDERS", "ImageFolderDataset",
           "MAX_SIZE", "MIN_SIZE", "PhotosDataset", "SAMPLE_PHOTOS", "SHAPE_CLASSES", "SPLITS",
           "ShapesDataset", "archives", "available", "check_image_size", "files",
           "imagenet_classes", "load", "photos", "read_idx", "read_image", "render_shape_scene",
           "sample_photos", "shapes"]
