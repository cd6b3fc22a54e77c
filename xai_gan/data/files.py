"""Image files: reading one, a class-per-folder tree, and Imagenette."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from .common import SPLITS

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SPLIT_FOLDERS = {"train": ("train", "training"), "val": ("val", "valid", "validation"),
                 "test": ("test", "evaluation", "eval")}


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


def fit(img: Image.Image, image_size: int) -> tuple[Image.Image, tuple[float, float, float]]:
    """Resize ``img`` so that its short side is ``image_size`` (anti-aliased bilinear), then
    crop the centre square, as ImageNet evaluation does: the aspect ratio is kept and the
    long side's margins are cut.

    Returns the square image and ``(scale, left, top)``: a source pixel ``(x, y)`` lands at
    ``(x * scale - left, y * scale - top)`` (see :func:`fit_box`).
    """
    width, height = img.size
    scale = image_size / min(width, height)
    size = (max(image_size, round(width * scale)), max(image_size, round(height * scale)))
    left, top = (size[0] - image_size) // 2, (size[1] - image_size) // 2
    img = img.resize(size, Image.BILINEAR).crop((left, top, left + image_size, top + image_size))
    return img, (scale, left, top)


def fit_box(box, transform: tuple[float, float, float], image_size: int) -> list[float] | None:
    """A ``[left, top, right, bottom]`` source box after :func:`fit`, clipped to the image;
    None when nothing of it is left."""
    scale, left, top = transform
    l, t, r, b = (v * scale - shift for v, shift in zip(box, (left, top, left, top)))
    l, t, r, b = max(l, 0), max(t, 0), min(r, image_size), min(b, image_size)
    return [l, t, r, b] if r > l and b > t else None


def open_image(path: str | Path, channels: int = 3) -> Image.Image:
    """An image file as an upright RGB (or grey) PIL image: grey, palette and 16-bit images
    are converted, transparency is composited on white and the EXIF orientation is applied,
    as a photo viewer does.

    Raises
    ------
    OSError
        Naming the file, when it is not a readable image (corrupt, truncated, not an image).
    """
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)  # phone photos: upright, as a viewer shows them
            return _to_mode(img, channels)  # convert() decodes: truncation shows up here
    except (OSError, SyntaxError, EOFError, Image.DecompressionBombError) as err:
        raise OSError(f"cannot read image {path}: {err}. Delete or replace this file (or "
                      f"download / extract the dataset again).") from err


def to_tensor(img: Image.Image) -> torch.Tensor:
    """A PIL image as a FloatTensor (channels, height, width) in [0, 1]."""
    pixels = np.asarray(img, np.uint8).reshape(img.size[1], img.size[0], -1)
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255.0


def read_image(path: str | Path, image_size: int, channels: int = 3) -> torch.Tensor:
    """Read an image file as a FloatTensor (channels, image_size, image_size) in [0, 1].

    The file is opened as :func:`open_image` does, then :func:`fit` to a square: the short
    side resized to ``image_size`` and the centre cropped, so a non-square photo keeps its
    aspect ratio and loses the ends of its long side.

    Raises
    ------
    OSError
        Naming the file, when it is not a readable image (corrupt, truncated, not an image).
    """
    return to_tensor(fit(open_image(path, channels), image_size)[0])


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
    Images are listed class by class, so ``n`` keeps the first classes' images; ``download``
    is accepted, as by every loader of :func:`~xai_gan.data.load`, and ignored: the folder is
    the user's own.
    """

    def __init__(self, split="train", image_size=None, channels=None, *, root=None,
                 download=False, n=None, seed=0, val_fraction=0.1, test_fraction=0.1):
        if not root:
            raise ValueError("imagefolder needs root=<a folder of class folders>")
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"imagefolder root {root} does not exist (imagefolder "
                                    f"reads your own folder: nothing is downloaded)")
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
        samples = [(p, label[c]) for c, files in by_class.items() for p in files][:n]
        super().__init__(samples, classes, name="imagefolder", image_size=image_size or 64,
                         channels=channels)



# Folder that each Imagenette archive unpacks to (fast.ai's names; torchvision's layout is
# <root>/<folder>/{train,val}/<WordNet id>/<name>.JPEG).
IMAGENETTE_FOLDERS = {"full": "imagenette2", "320px": "imagenette2-320",
                      "160px": "imagenette2-160"}
IMAGENETTE_MB = {"full": 1500, "320px": 330, "160px": 95}
IMAGENETTE_ROOT = "data/imagenette"


def imagenette(split="train", image_size=None, channels=None, *, root=None, download=False,
               n=None, seed=0, size="160px", val_fraction=0.1) -> FileDataset:
    """Imagenette in torchvision's layout under ``root`` (default :data:`IMAGENETTE_ROOT`), as
    :func:`~xai_gan.data.load` describes: its ``val`` split is our ``test``, and ``val`` is
    ``val_fraction`` of each training class; ``seed`` seeds that split and the shuffle of the
    listing."""
    root = root or IMAGENETTE_ROOT
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
