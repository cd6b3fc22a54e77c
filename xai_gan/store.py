"""The on-disk representation store: every item's image, condition maps and teacher map.

Format. A store is a folder: ``metadata.json`` (what was built, with what) and one folder per
chunk of ``chunk_size`` consecutive dataset items, each holding one ``.npy`` file per field.
``.npy`` is chosen because :func:`numpy.load` memory-maps it (``mmap_mode="r"``): a store far
larger than RAM is read one item at a time, with no extra dependency, and every field keeps
its own compact dtype (uint8 images, float16 maps). A chunk is written to a temporary folder
and renamed into place only when complete, so a killed build leaves either a whole chunk or
none; re-running skips the chunks that exist and writes the rest.

Format 2 names the fields ``conditions`` and ``teacher_map`` and the metadata's explainer
``teacher``; format-1 stores (``cgms``, ``target``) are read under the new names.
"""
from __future__ import annotations

import bisect
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset

from . import explainers
from .devices import forward_batch, place
from .io import differences, exclusive, save_json
from .maps import resize
from .layers import representation_layers
from .progress import progress_bar
from .representation import cumulative_maps, cumulative_positions, layer_gradcams
from .scoped import eval_mode

STORE_FORMAT = "xai-gan-representation/2"
# format 1's names for what format 2 calls conditions, teacher_map and teacher
FORMAT_1 = {"format": "xai-gan-representation/1",
            "fields": {"cgms": "conditions", "target": "teacher_map"},
            "metadata": {"target": "teacher"}}


def model_hash(model: nn.Module) -> str:
    """SHA-256 (first 16 hex digits) of the model's parameters and buffers."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _chunk_dir(root: Path, index: int) -> Path:
    return root / f"chunk-{index:05d}"


def _chunk_rows(index: int, chunk_size: int, n: int) -> range:
    return range(index * chunk_size, min((index + 1) * chunk_size, n))


def build(model: nn.Module, dataset: Dataset, out_dir: str | Path, k: int = 8,
          map_size: int | None = None, teacher: str = "gradcam", *, batch_size: int | None = None,
          chunk_size: int = 256, device=None, progress: bool = True,
          shard: tuple[int, int] = (0, 1)) -> "RepresentationStore | None":
    """Compute the representation of every item of ``dataset`` and write it to ``out_dir``.

    The CNN runs at the dataset's image size. Each item stores, at ``map_size``, the image
    (uint8), the k condition maps and the teacher's map (float16); and the label, the CNN's
    prediction, whether it was correct, and the dataset's mask if any. The condition maps
    explain the predicted class; so does the teacher. Computed where the model is (or on
    ``device``, where it is moved).

    Resumable: re-running after an interruption writes only the missing chunks. A store built
    with another model, dataset, k, size or teacher is refused, never extended. For an
    expensive teacher, ``shard=(i, n)`` splits the work across n processes (or machines
    sharing the folder), all with the same n and each with its own i: process i writes
    chunks i, i + n, ..., each written whole and then renamed into place.

    Parameters
    ----------
    teacher : str
        Name of an explainer in :mod:`xai_gan.explainers` (default ``"gradcam"``: Grad-CAM at
        its default layer, the last conv layer of a zoo CNN and the last pooled block of a
        torchvision one), whose map the GAN learns to draw.
    map_size : int, optional
        Side of the stored image and maps, the size the GAN works at (default: the images').
        The paper runs its CNNs at 224 px and stores 64 x 64 maps.
    batch_size : int, optional
        Images per CNN pass (default: :func:`~xai_gan.devices.forward_batch` up to 64: 16 at
        128 px on a CPU, where larger batches ran slower). It does not change what is stored.
    """
    out_dir = Path(out_dir)
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {shard}")
    explain = explainers.get(teacher)
    # two processes on one share take turns (the second reuses the first's chunks); the
    # lock lies beside the store, which holds only chunks and metadata
    with exclusive(out_dir.parent / f"{out_dir.name}.shard-{index}-of-{count}"):
        metadata = _settle_metadata(model, dataset, out_dir, k, map_size, teacher, chunk_size)
        sample = dataset[0]["image"][None].to(place(model, device))
        batch_size = forward_batch(sample, batch_size, cap=64)
        return _write_chunks(model, dataset, out_dir, metadata, explain, shard, batch_size,
                             device, progress)


def _settle_metadata(model, dataset, out_dir, k, map_size, teacher, chunk_size) -> dict:
    """The store's settings, checked against what ``out_dir`` already holds, else written."""
    first = dataset[0]["image"]
    if first.ndim != 3 or first.shape[-1] != first.shape[-2]:
        raise ValueError(f"dataset images must be square (C, H, W), got {tuple(first.shape)}")
    image_size = first.shape[-1]
    map_size = map_size or image_size
    if not 8 <= map_size <= image_size:
        raise ValueError(f"map_size must be from 8 to the image size ({image_size}), "
                         f"got {map_size}")
    layers = representation_layers(model, image_size=image_size, in_channels=first.shape[0])
    metadata = {
        "format": STORE_FORMAT,
        "model": getattr(model, "xai_gan_spec", {"name": type(model).__name__}),
        "model_hash": model_hash(model),
        "dataset": {"name": getattr(dataset, "name", type(dataset).__name__),
                    "split": getattr(dataset, "split", None), "n": len(dataset),
                    "classes": list(getattr(dataset, "classes", []))},
        "layers": [name for name, _ in layers], "k": k,
        "positions": cumulative_positions(len(layers), k), "image_size": image_size,
        "map_size": map_size, "channels": first.shape[0], "teacher": teacher,
        "chunk_size": chunk_size,
        "has_mask": "mask" in dataset[0],
    }
    meta_path = out_dir / "metadata.json"
    if meta_path.exists():
        existing = json.loads(meta_path.read_text())
        existing.setdefault("map_size", existing.get("image_size"))  # stores before map_size
        different = differences(existing, metadata)
        if different:
            hint = (" (a format-1 store: delete the folder and build it again)"
                    if existing.get("format") == FORMAT_1["format"] else "")
            raise ValueError(f"{out_dir} holds a store built with other settings{hint} "
                             f"({different}). Use another folder or delete this one.")
    else:
        save_json(metadata, meta_path)
    return metadata


def _write_chunks(model, dataset, out_dir, metadata, explain, shard, batch_size, device,
                  progress) -> "RepresentationStore | None":
    index, count = shard
    k, map_size, chunk_size = metadata["k"], metadata["map_size"], metadata["chunk_size"]
    device = place(model, device)
    n_chunks = -(-len(dataset) // chunk_size)
    mine = range(index, n_chunks, count)
    for c in mine:  # a temporary folder left by an interrupted build (of this shard only)
        shutil.rmtree(out_dir / f".chunk-{c:05d}.tmp", ignore_errors=True)
    todo = [c for c in mine if not _chunk_dir(out_dir, c).exists()]
    total = sum(len(_chunk_rows(c, chunk_size, len(dataset))) for c in mine)
    done = total - sum(len(_chunk_rows(c, chunk_size, len(dataset))) for c in todo)
    bar = progress_bar(total=total, initial=done, desc=f"representation {out_dir.name}",
                       unit="img", disable=not progress)
    for c in todo:
        indices = _chunk_rows(c, chunk_size, len(dataset))
        fields: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(indices), batch_size):
            items = [dataset[i] for i in indices[start:start + batch_size]]
            with eval_mode(model):
                batch = _compute(model, items, k, map_size, metadata["layers"], explain, device)
            for key, value in batch.items():
                fields.setdefault(key, []).append(value)
            bar.update(len(items))
        tmp = out_dir / f".chunk-{c:05d}.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        for key, parts in fields.items():
            np.save(tmp / f"{key}.npy", np.concatenate(parts))
        if _chunk_dir(out_dir, c).exists():  # a process with an overlapping share was faster
            shutil.rmtree(tmp)
        else:
            tmp.rename(_chunk_dir(out_dir, c))
    bar.close()
    if any(not _chunk_dir(out_dir, c).exists() for c in range(n_chunks)):
        return None
    return RepresentationStore(out_dir)


def _compute(model, items, k, map_size, layer_names, explain,
             device) -> dict[str, np.ndarray]:
    images = torch.stack([it["image"] for it in items]).to(device)
    low, high = images.min().item(), images.max().item()
    if low < 0 or high > 1:
        raise ValueError(f"store images must be in [0, 1], got [{low:.3g}, {high:.3g}]: a model "
                         f"that needs normalised input normalises it itself "
                         f"(xai_gan.classifiers.build(..., mean=, std=))")
    labels = torch.tensor([it["label"] for it in items])
    maps = layer_gradcams(model, images, layers=layer_names, size=map_size)
    with torch.no_grad():
        pred = model(images).argmax(1).cpu()
    teacher_map = resize(explain(model, images, pred).detach(), map_size)
    fields = {
        "image": (resize(images, map_size).cpu() * 255).round().to(torch.uint8).numpy(),
        "conditions": cumulative_maps(maps, k).cpu().half().numpy(),
        "teacher_map": teacher_map.cpu().half().numpy(),
        "label": labels.numpy(), "pred": pred.numpy(), "correct": (pred == labels).numpy(),
    }
    if "mask" in items[0]:
        masks = resize(torch.stack([it["mask"] for it in items]), map_size)
        fields["mask"] = masks.half().numpy()
    return fields


def is_built(path: str | Path) -> bool:
    """Whether the store at ``path`` is finished and readable: its metadata and every chunk
    written (a build interrupted, or a shard's share alone, is not)."""
    try:
        RepresentationStore(path)
    except (FileNotFoundError, ValueError):
        return False
    return True


class RepresentationStore(Dataset):
    """A built store as a torch Dataset with random access (memory-mapped).

    Items: ``dict(image=(C,S,S) float in [0,1], conditions=(k,S,S), teacher_map=(S,S), label,
    pred, correct, mask=(S,S) when the dataset had one)``, S the store's ``map_size``.
    ``metadata`` holds what it was built from (``image_size``: the CNN's input side);
    ``metadata["teacher"]`` names the explainer of ``teacher_map``. ``limit`` keeps only the
    first items (a training-set size curve on one store).
    """

    def __init__(self, path: str | Path, limit: int | None = None):
        self.path = Path(path)
        meta_path = self.path / "metadata.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{self.path} is not a representation store (no "
                                    f"metadata.json); build one with xai_gan.store.build")
        self.metadata = json.loads(meta_path.read_text())
        fields = {}
        if self.metadata.get("format") == FORMAT_1["format"]:
            fields = FORMAT_1["fields"]
            self.metadata = {FORMAT_1["metadata"].get(key, key): value
                             for key, value in self.metadata.items()}
        elif self.metadata.get("format") != STORE_FORMAT:
            raise ValueError(f"{self.path}: unknown store format {self.metadata.get('format')!r}"
                             f" (this version reads {STORE_FORMAT} and {FORMAT_1['format']}): "
                             f"delete the folder and build it again")
        chunk_size, n = self.metadata["chunk_size"], self.metadata["dataset"]["n"]
        n_chunks = -(-n // chunk_size)
        missing = [c for c in range(n_chunks) if not _chunk_dir(self.path, c).exists()]
        if missing:
            raise ValueError(f"{self.path} is incomplete ({len(missing)} of {n_chunks} chunks "
                             f"missing): run the build again to finish it")
        self._chunks = [{fields.get(f.stem, f.stem): np.load(f, mmap_mode="r")
                         for f in _chunk_dir(self.path, c).glob("*.npy")}
                        for c in range(n_chunks)]
        self.metadata.setdefault("map_size", self.metadata["image_size"])  # before map_size
        self.k, self.map_size = self.metadata["k"], self.metadata["map_size"]
        self.image_size = self.metadata["image_size"]
        self.teacher = self.metadata["teacher"]
        if limit is not None and not 1 <= limit <= n:
            raise ValueError(f"limit must be from 1 to the store's {n} items, got {limit}")
        self._n, self._chunk_size = limit or n, chunk_size

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int) -> dict:
        if not -self._n <= index < self._n:
            raise IndexError(f"index {index} out of range for {self._n} items")
        chunk, row = divmod(index % self._n, self._chunk_size)
        fields = self._chunks[chunk]
        item = {"image": torch.from_numpy(np.array(fields["image"][row])).float() / 255,
                "conditions": torch.from_numpy(np.array(fields["conditions"][row], np.float32)),
                "teacher_map": torch.from_numpy(np.array(fields["teacher_map"][row],
                                                         np.float32)),
                "label": int(fields["label"][row]), "pred": int(fields["pred"][row]),
                "correct": bool(fields["correct"][row])}
        if "mask" in fields:
            item["mask"] = torch.from_numpy(np.array(fields["mask"][row], np.float32))
        return item


class CombinedStore(ConcatDataset):
    """Stores joined for joint training: each item also carries ``source``, the index of the
    store (and so of the CNN) it came from, for objectives that run that CNN."""

    def __getitem__(self, index: int) -> dict:
        index = index % len(self) if index < 0 else index
        return {**super().__getitem__(index),
                "source": bisect.bisect_right(self.cumulative_sizes, index)}


def combine(stores) -> CombinedStore:
    """Join stores (several CNNs or datasets) for joint training; k and map size must agree
    (the CNNs' input sizes may differ). Items carry ``source``, the index of their store."""
    stores = [RepresentationStore(s) if isinstance(s, (str, Path)) else s for s in stores]
    shapes = {(s.k, s.map_size) for s in stores}
    if len(shapes) > 1:
        raise ValueError(f"stores differ in (k, map_size): {sorted(shapes)}")
    if len({"mask" in s[0] for s in stores}) > 1:  # default_collate needs the same keys
        raise ValueError("some stores have masks and others not")
    return CombinedStore(stores)


def num_classes(store) -> int:
    """The most classes among the CNNs a store (or each store of a combined one) was built
    from, as their metadata records it; 0 where none is recorded."""
    return max(getattr(s, "metadata", {}).get("model", {}).get("num_classes", 0)
               for s in getattr(store, "datasets", [store]))


__all__ = ["build", "RepresentationStore", "CombinedStore", "combine", "is_built", "model_hash",
           "num_classes", "STORE_FORMAT"]
