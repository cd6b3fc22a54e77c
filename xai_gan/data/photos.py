"""Real photos that install with the package's dependencies, offline.

:class:`PhotosDataset` (``load("photos")``) is an evaluation set: photos bundled with
scikit-image, scikit-learn and matplotlib, and off-centre crops of them, each with its ImageNet
class and hand-drawn object boxes (``photos.json``, beside this module; sources and licences in
data/README.md). :func:`sample_photos` writes a class-per-folder tree of random crops instead,
a stand-in for the ``imagefolder`` loader.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .common import check_image_size, convert
from .files import fit, fit_box, open_image, to_tensor

PHOTOS_FILE = Path(__file__).with_name("photos.json")
PIP_NAMES = {"skimage": "scikit-image", "sklearn": "scikit-learn"}


# Colour photos bundled in scikit-image's data folder (no download), one class each; their
# sources and licences are in data/README.md.
SAMPLE_PHOTOS = {"astronaut": "astronaut.png", "cat": "chelsea.png", "coffee": "coffee.png",
                 "rocket": "rocket.jpg"}
_SAMPLE_MANIFEST = ".sample_photos.json"


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
    if _holds(manifest, settings):
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()) and not manifest.exists():
        raise FileExistsError(f"{out_dir} exists and was not written by sample_photos: "
                              f"choose another out_dir")
    _write_samples(out_dir, package_file("skimage", "data"), settings)
    return out_dir


def _holds(manifest: Path, settings: dict) -> bool:
    """Whether the folder of ``manifest`` holds the set ``settings`` describe."""
    return manifest.exists() and json.loads(manifest.read_text()) == settings


def _write_samples(out_dir: Path, source: Path, settings: dict) -> None:
    """Write the crops ``settings`` describe, of the photos in the folder ``source``, and
    their manifest to ``out_dir``, replacing what it holds."""
    per_class, size, seed = settings["per_class"], settings["size"], settings["seed"]
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # built beside out_dir, then renamed: a reader never sees a half-written tree
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    try:
        for c, (name, file) in enumerate(settings["photos"].items()):
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
        if not _holds(out_dir / _SAMPLE_MANIFEST, settings):
            raise
        # another process wrote the same set first: keep its copy
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def imagenet_classes() -> tuple[str, ...]:
    """The 1,000 ImageNet class names in index order (torchvision's metadata; offline)."""
    import torchvision

    return tuple(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def package_file(package: str, path: str) -> Path:
    """The file ``path`` inside the installed ``package`` (e.g. ``"skimage"``,
    ``"data/rocket.jpg"``)."""
    spec = importlib.util.find_spec(package)  # found without importing: no data fetcher runs
    if spec is None or not spec.origin:
        raise ImportError(f"the photos need the package that ships them: `pip install "
                          f"{PIP_NAMES.get(package, package)}`")
    return Path(spec.origin).parent / path


class PhotosDataset(Dataset):
    """Real photos with their ImageNet class and object boxes (``load("photos")``).

    Items are ``{"image", "label", "mask"}``: ``label`` indexes :attr:`classes` (the 1,000
    ImageNet classes) and ``mask`` is 1 inside the photo's boxes. Each photo (or its ``crop``
    of a larger photo) is fit to a square as :func:`~xai_gan.data.read_image` does, and the
    boxes follow the same transform. :attr:`names` and :meth:`boxes` describe each item.

    The photos are few: use them to see and to score localisation, not to train. Their
    files are checked against the checksums in ``photos.json``.

    ``names`` keeps a subset by name and ``n`` the first n photos (of that subset). ``root``,
    ``download`` and ``seed`` are accepted, as by every loader of :func:`~xai_gan.data.load`,
    and ignored: the photos are bundled and nothing is random.
    """

    name = "photos"

    def __init__(self, split: str = "test", image_size: int | None = None, channels=None, *,
                 root=None, download: bool = False, n: int | None = None, seed: int = 0,
                 names=None):
        if split != "test":
            raise ValueError(f"photos is an evaluation set with one split, 'test'; got "
                             f"{split!r}")
        spec = json.loads(PHOTOS_FILE.read_text())
        entries = spec["photos"]
        if names is not None:
            unknown = sorted(set(names) - {e["name"] for e in entries})
            if unknown:
                raise ValueError(f"no photos named {unknown}; choose from "
                                 f"{[e['name'] for e in entries]}")
            entries = [e for e in entries if e["name"] in names]
        entries = entries[:n]
        self.entries, self.sources = entries, spec["sources"]
        self.image_size, self.channels = image_size or 224, channels or 3
        self.classes = imagenet_classes()
        self.names = [e["name"] for e in entries]
        self.labels = [self.classes.index(e["class"]) for e in entries]
        self._cache: dict[int, tuple] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def _source(self, key: str) -> Image.Image:
        source = self.sources[key]
        path = package_file(source["package"], source["path"])
        data = path.read_bytes() if path.exists() else b""
        if hashlib.sha256(data).hexdigest() != source["sha256"]:
            raise ValueError(f"photo {path} is missing or not the one whose boxes were drawn "
                             f"(its sha256 differs from photos.json): reinstall "
                             f"{source['package']} at the locked version (make install)")
        return open_image(path)

    def _fitted(self, index: int) -> tuple[torch.Tensor, list]:
        if index not in self._cache:
            entry = self.entries[index]
            photo = self._source(entry["source"])
            left, top = 0, 0
            if "crop" in entry:
                photo = photo.crop(entry["crop"])
                left, top = entry["crop"][:2]
            photo, transform = fit(photo, self.image_size)
            boxes = [fit_box([box[0] - left, box[1] - top, box[2] - left, box[3] - top],
                             transform, self.image_size) for box in entry["boxes"]]
            if any(box is None for box in boxes):
                raise ValueError(f"photo {entry['name']!r}: a box lies outside its crop")
            self._cache[index] = (to_tensor(photo), boxes)
        return self._cache[index]

    def boxes(self, index: int) -> list[list[float]]:
        """Item ``index``'s object boxes, ``[left, top, right, bottom]`` in its pixels."""
        return [list(box) for box in self._fitted(index)[1]]

    def __getitem__(self, index: int) -> dict:
        image, boxes = self._fitted(index)
        mask = torch.zeros(self.image_size, self.image_size)
        for left, top, right, bottom in boxes:  # a pixel counts where it is mostly inside
            mask[round(top):round(bottom), round(left):round(right)] = 1.0
        return {"image": convert(image, self.image_size, self.channels),
                "label": self.labels[index], "mask": mask}
