"""What the trainer reads off its representation stores: their shape, the stores a combined
store joins, the CNN input sizes, teacher and layers they were built with, and the checks
that a generator and its classifiers fit them."""
from __future__ import annotations

from torch.utils.data import Dataset

from ..store import num_classes


def shape(store: Dataset) -> dict:
    """``k``, ``map_size`` and ``image_channels`` of a store's items."""
    item = store[0]
    return {"k": item["conditions"].shape[0], "map_size": item["image"].shape[-1],
            "image_channels": item["image"].shape[0]}


def parts_of(store: Dataset) -> list[Dataset]:
    """The stores a combined store joins, in order (a plain store: itself)."""
    return list(getattr(store, "datasets", [store]))


def input_sizes(store: Dataset, map_size: int) -> list[int]:
    """Per store: the CNN's input side it was built at (the faithfulness term runs that CNN
    there); the map size for stores without that record."""
    return [getattr(s, "image_size", map_size) for s in parts_of(store)]


def teacher(store: Dataset) -> str | None:
    """The explainer whose maps the stores hold, when they all hold one's."""
    teachers = {getattr(s, "metadata", {}).get("teacher") for s in parts_of(store)}
    return teachers.pop() if len(teachers) == 1 else None


def representations(store: Dataset) -> list[dict]:
    """Per store: its CNN's spec and the layers its condition maps were computed at, for the
    checkpoint (:class:`~xai_gan.gan.GANExplainer` refuses that CNN at other layers)."""
    return [{"model": s.metadata["model"], "layers": s.metadata["layers"]}
            for s in parts_of(store) if "layers" in getattr(s, "metadata", {})]


def check_classes(generator, store: Dataset) -> None:
    """A generator that reads the explained class must have a plane for every class of the
    stores' CNNs."""
    n = getattr(generator, "classes", 0)
    needed = num_classes(store) if n else 0
    if needed > n:
        raise ValueError(f"the generator reads {n} class planes, but the stores' CNNs have "
                         f"up to {needed} classes: build it with classes={needed}")


def check_sources(models: list, n_train: int, n_val: int) -> None:
    """One classifier per store, and as many val stores as train stores (the same CNNs, in
    the same order)."""
    if not len(models) == n_train == n_val:
        raise ValueError(f"the faithfulness term runs each store's own CNN: got "
                         f"{len(models)} classifier(s) for {n_train} train and {n_val} val "
                         "store(s); pass one classifier per store, in the order the stores "
                         "were combined")


def as_list(value) -> list:
    """``value`` as a list: one classifier, input size... or a list of them, one per store."""
    return list(value) if isinstance(value, (list, tuple)) else [value]
