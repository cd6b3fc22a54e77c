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
         channels: int | None = None, **kwargs) -> Dataset:
    """Load a dataset by name.

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
    **kwargs
        Passed to the dataset: ``n``, ``seed`` (shapes); ``root``, ``download``, ``n`` (the
        split's first n images: fashion-mnist, cifar10); ``root``, ``val_fraction``,
        ``test_fraction``, ``seed`` (imagefolder); ``root``, ``size`` ("160px", "320px" or
        "full"), ``download``, ``val_fraction``, ``seed``, ``n`` (imagenette); ``names``
        (photos: a subset by name).

    Raises
    ------
    FileNotFoundError
        When a dataset's files are missing; the message says how to get them.
    ValueError
        For an unknown name, split, size or channel count, or an unusable image folder.
    """
    split = split or ("test" if name == "photos" else "train")
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


_LOADERS = {"shapes": ShapesDataset, "fashion-mnist": archives.fashion_mnist,
            "cifar10": archives.cifar10, "imagefolder": ImageFolderDataset,
            "imagenette": files.imagenette, "photos": PhotosDataset}

__all__ = ["ArrayDataset", "FASHION_MNIST_CLASSES", "FASHION_MNIST_DIR", "FASHION_MNIST_ENV",
           "FASHION_MNIST_FILES", "FileDataset", "IMAGENETTE_FOLDERS", "ImageFolderDataset",
           "MAX_SIZE", "MIN_SIZE", "PhotosDataset", "SAMPLE_PHOTOS", "SHAPE_CLASSES", "SPLITS",
           "ShapesDataset", "archives", "available", "check_image_size", "files",
           "imagenet_classes", "load", "photos", "read_idx", "read_image", "render_shape_scene",
           "sample_photos", "shapes"]
