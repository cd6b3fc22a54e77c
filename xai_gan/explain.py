"""One photo explained in one picture: the CNN's top classes and every quick method's map.

``xai-gan explain photo.jpg`` calls :func:`explain_file`; by default the CNN is the offline
ImageNet EfficientNet-Lite0, so any photo of one of the 1,000 ImageNet classes means
something without training anything.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch

from . import classifiers, explainers, plotting
from .data import read_image
from .io import atomic_path


def load_model(model: str | Path | None):
    """``None``: the ImageNet EfficientNet-Lite0; else a classifier checkpoint's path."""
    if model is None:
        return classifiers.build("efficientnet_lite0", 1000, weights="imagenet").eval()
    return classifiers.load_checkpoint(model)["model"]


def target_index(target: str | int | None, names: list[str], probs: torch.Tensor) -> int:
    """The class to explain: the top one, an index, or a name (case-insensitive)."""
    if target is None:
        return int(probs.argmax())
    if isinstance(target, int) or str(target).isdigit():
        index = int(target)
        if not 0 <= index < len(names):
            raise ValueError(f"class index {index} is out of range: the model has "
                             f"{len(names)} classes")
        return index
    lowered = [name.lower() for name in names]
    if str(target).lower() not in lowered:
        close = [n for n in names if str(target).lower() in n.lower()][:5]
        raise ValueError(f"the model has no class {target!r}"
                         + (f"; did you mean one of {close}?" if close else ""))
    return lowered.index(str(target).lower())


def explain_file(path: str | Path, out: str | Path | None = None, model=None,
                 methods: list[str] | None = None, target: str | int | None = None,
                 top: int = 5, image_size: int = 224) -> Path:
    """Explain the image file ``path`` and write a PNG: the photo with the CNN's ``top``
    classes, then each method's map of ``target`` (default: the top class) over it.

    Parameters
    ----------
    out : path, optional
        Default ``<photo name>-explained.png`` beside the photo. Written atomically.
    model : path of a classifier checkpoint, optional (default: ImageNet EfficientNet-Lite0)
    methods : explainer names (default :func:`xai_gan.explainers.quick`)
    target : class name or index, optional

    Returns
    -------
    Path of the PNG.
    """
    path = Path(path)
    net = load_model(model)
    channels = net.xai_gan_spec.get("in_channels", 3)
    image = read_image(path, image_size, channels)[None]
    names = classifiers.class_names(net)
    probs = classifiers.predict(net, image)[0]
    index = target_index(target, names, probs)
    methods = methods or explainers.quick()
    maps = {name: explainers.get(name)(net, image, torch.tensor([index]))
            for name in methods}
    ranked = probs.topk(min(top, len(names)))
    caption = "\n".join(f"{p:.0%} {names[i]}" for p, i in zip(ranked.values.tolist(),
                                                              ranked.indices.tolist()))
    fig = plotting.method_grid(image, maps, size=2.2)
    fig.axes[0].set_title("top classes", fontsize=8)
    fig.axes[0].set_xlabel(caption, fontsize=7, loc="left")
    fig.suptitle(f"{path.name}: why '{names[index]}' ({probs[index]:.0%})?", fontsize=10)
    out = Path(out) if out is not None else path.with_name(f"{path.stem}-explained.png")
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out
