"""What every dataset shares: splits, the size range, resizing and the in-memory array dataset."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

SPLITS = ("train", "val", "test")
MIN_SIZE, MAX_SIZE = 32, 512  # 224 and 299 are what ImageNet-trained CNNs expect


def check_image_size(image_size: int) -> None:
    """Raise ``ValueError`` unless ``image_size`` is an int in the supported range."""
    if not isinstance(image_size, int) or not MIN_SIZE <= image_size <= MAX_SIZE:
        raise ValueError(f"image_size must be an integer from {MIN_SIZE} to {MAX_SIZE}, "
                         f"got {image_size!r}")


def convert(image: torch.Tensor, image_size: int, channels: int) -> torch.Tensor:
    """Resize a (C, H, W) image to ``image_size`` and convert it to ``channels``."""
    if image.shape[0] != channels:
        image = image.mean(0, keepdim=True) if channels == 1 else image.expand(3, -1, -1)
    if image.shape[-1] != image_size or image.shape[-2] != image_size:
        image = F.interpolate(image[None], size=(image_size, image_size), mode="bilinear",
                              align_corners=False, antialias=True)[0].clamp(0, 1)
    return image.contiguous()


def resize_all(images: np.ndarray, size: int, chunk: int = 4096) -> np.ndarray:
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
        self.images = (resize_all(images, self.image_size)
                       if resized_bytes <= RESIZE_UP_FRONT_BYTES else images)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        pixels = resize_all(self.images[index][None], self.image_size)[0]
        image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255.0
        return {"image": convert(image, self.image_size, self.channels),
                "label": int(self.labels[index])}



def holdout(n: int, split: str, val_size: int) -> slice:
    """Rows of a source training split used for our train or val split."""
    return slice(0, n - val_size) if split == "train" else slice(n - val_size, n)
