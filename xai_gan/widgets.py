"""ipywidgets explorers. Each widget's drawing is a plain function, testable without a browser.

Numbering is the package's everywhere: layers from 0 (the first conv layer) to ``L - 1`` (the
block the head pools, :func:`xai_gan.layers.representation_layers`); condition maps from 0
(the deepest layer alone) to ``k - 1`` (the mean of every layer). Every panel is drawn over the
image, with the object's outline where there is a mask.

Works with ipywidgets 7.7 (what Colab ships) and 8: only sliders, dropdowns, a file upload,
boxes, an Output, ``observe(names="value")`` and ``clear_output(wait=True)``, which both have;
they differ in how a widget is displayed and how an upload is read, which the explorers follow
(see ``WIDGETS_8``).
"""
from __future__ import annotations

import copy
import io
import warnings

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch.utils.data import Dataset

from .classifiers import predict
from .data import read_image
from .explainers import ZeroMapWarning
from .layers import representation_layers
from .plotting import colour_bar, overlay
from .representation import cumulative_positions, layer_gradcams

# ipywidgets 8 displays a widget through _repr_mimebundle_, 7 through _ipython_display_
WIDGETS_8 = hasattr(widgets.Widget, "_repr_mimebundle_")


def condition_label(layer: int, n_layers: int, k: int) -> str:
    """Which condition map the mean of layers ``layer`` .. ``n_layers - 1`` is, if any."""
    kept = cumulative_positions(n_layers, k)
    depth = n_layers - 1 - layer  # position in the deepest-first order
    return f"condition {kept.index(depth)}" if depth in kept else "not a condition"


def _layer_panels(axes, image, maps: torch.Tensor, layer: int, layer_names, k: int,
                  mask, cmap: str, alpha: float):
    """One layer's Grad-CAM and the cumulative map down to it, over the image."""
    n_layers = maps.shape[0]
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer must be in [0, {n_layers - 1}], got {layer}")
    name = layer_names[layer] if layer_names else "layer"
    overlay(axes[0], image, maps[layer], mask, alpha, cmap)
    axes[0].set_title(f"layer {layer}: {name}", fontsize=9)
    overlay(axes[1], image, maps[layer:].mean(0), mask, alpha, cmap)
    axes[1].set_title(f"mean of layers {layer}-{n_layers - 1}: "
                      f"{condition_label(layer, n_layers, k)}", fontsize=9)


def _framed(fig, axes, cmap: str):
    """The views' finish: panels without axes, laid out, one colour bar for every map."""
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    colour_bar(fig, axes, cmap)
    return fig


def layer_view(image: torch.Tensor, maps: torch.Tensor, layer: int, layer_names=None,
               k: int = 8, mask: torch.Tensor | None = None, cmap: str = "jet",
               alpha: float = 0.5):
    """Image, the Grad-CAM of one layer, and the cumulative map down to that layer.

    Parameters
    ----------
    image : (C, H, W) tensor
    maps : (L, H, W) tensor, per-layer maps shallow to deep (one image of
        :func:`xai_gan.representation.layer_gradcams`)
    layer : int
        Index into ``maps``, from 0. The cumulative map is the mean of this layer and every
        deeper one; the title says which condition map it is, if it is one of the k.
    mask : (H, W) tensor, optional; the object, outlined in white on every panel

    Returns
    -------
    matplotlib.figure.Figure with three panels and one colour bar.
    """
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    overlay(axes[0], image, None, mask)
    axes[0].set_title("image")
    _layer_panels(axes[1:], image, maps, layer, layer_names, k, mask, cmap, alpha)
    return _framed(fig, axes, cmap)


def explanation_view(image: torch.Tensor, heat: torch.Tensor, method: str, maps: torch.Tensor,
                     layer: int, layer_names=None, k: int = 8, caption: str = "image",
                     mask: torch.Tensor | None = None, cmap: str = "jet", alpha: float = 0.5):
    """One method's map beside what one layer saw: four panels, each over the image.

    The image (``caption`` as its title, e.g. the prediction), ``heat`` (the method's (H, W)
    map), then :func:`layer_view`'s layer Grad-CAM and cumulative map for ``layer``, with one
    colour bar.
    """
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
    overlay(axes[0], image, None, mask)
    axes[0].set_title(caption, fontsize=9)
    overlay(axes[1], image, heat, mask, alpha, cmap)
    axes[1].set_title(method, fontsize=9)
    _layer_panels(axes[2:], image, maps, layer, layer_names, k, mask, cmap, alpha)
    return _framed(fig, axes, cmap)


class _Images:
    """The explorer's images: a (B, C, H, W) tensor or a dataset of dict items (read when
    picked), plus the ones a user adds; each with its mask and label where known."""

    def __init__(self, images, masks=None, labels=None):
        self.source, self.added = images, []
        if not isinstance(images, Dataset):
            self.masks, self.labels = masks, labels

    def __len__(self) -> int:
        return len(self.source) + len(self.added)

    def __getitem__(self, index: int) -> dict:
        if index >= len(self.source):
            return {"image": self.added[index - len(self.source)]}
        if isinstance(self.source, Dataset):
            return self.source[index]
        item = {"image": self.source[index]}
        if self.masks is not None:
            item["mask"] = self.masks[index]
        if self.labels is not None:
            item["label"] = int(self.labels[index])
        return item


class LayerExplorer:
    """A slider over images and one over layers, redrawing :func:`layer_view`.

    ``images``: a (B, C, H, W) tensor (with optional ``masks``) or a dataset of dict items
    (``image``, optional ``mask`` and ``label``), e.g. a whole test split. Displaying the
    object shows the widget; ``render(image, layer)`` draws one view.
    """

    def __init__(self, model, images, targets=None, k: int = 8, masks=None, labels=None):
        self.model, self.k = model, k
        self.items = _Images(images, masks, labels)
        first = self.items[0]["image"]
        self.image_size, self.channels = first.shape[-1], first.shape[0]
        self.layers = representation_layers(model, image_size=self.image_size,
                                            in_channels=self.channels)
        self.layer_names = [name for name, _ in self.layers]
        self.targets = {} if targets is None else {
            i: int(t) for i, t in enumerate(torch.as_tensor(targets).reshape(-1))}
        self._layer_maps, self._probabilities = {}, {}
        n_layers = len(self.layers)
        self.layer = widgets.IntSlider(value=n_layers - 1, min=0, max=n_layers - 1,
                                       description="layer", continuous_update=False)
        self.image = widgets.IntSlider(value=0, min=0, max=len(self.items) - 1,
                                       description="image", continuous_update=False)
        self.output = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.image, self.layer]), self.output])
        for control in (self.layer, self.image):
            control.observe(lambda change: self.refresh(), names="value")
        self.refresh()

    def probabilities(self, image: int) -> torch.Tensor:
        """The CNN's class probabilities for image ``image``."""
        if image not in self._probabilities:
            picture = self.items[image]["image"][None]
            self._probabilities[image] = predict(self.model, picture)[0].cpu()
        return self._probabilities[image]

    def target(self, image: int) -> int:
        """The class explained for ``image``: the one picked, else the predicted one."""
        return self.targets.get(image, int(self.probabilities(image).argmax()))

    def layer_maps(self, image: int, target: int | None = None) -> torch.Tensor:
        """(L, H, W) Grad-CAM maps of every layer for ``image`` and class ``target``."""
        target = self.target(image) if target is None else target
        if (image, target) not in self._layer_maps:
            picture = self.items[image]["image"][None]
            self._layer_maps[image, target] = layer_gradcams(
                self.model, picture, [target], self.layers)[0].cpu()
        return self._layer_maps[image, target]

    def render(self, image: int, layer: int):
        item = self.items[image]
        return layer_view(item["image"], self.layer_maps(image), layer, self.layer_names,
                          self.k, item.get("mask"))

    def current(self):
        """The view of the widgets' current values."""
        return self.render(self.image.value, self.layer.value)

    def refresh(self) -> None:
        self.output.clear_output(wait=True)
        with self.output:
            fig = self.current()
            display(fig)
            plt.close(fig)

    if WIDGETS_8:
        def _repr_mimebundle_(self, **kwargs):
            return self.widget._repr_mimebundle_(**kwargs)
    else:
        def _ipython_display_(self, **kwargs):
            display(self.widget)


def layer_explorer(model, images, targets=None, k: int = 8, masks=None,
                   labels=None) -> LayerExplorer:
    """Sliders over images and layers: each layer's Grad-CAM and the cumulative map down
    to it, over the image."""
    return LayerExplorer(model, images, targets, k, masks, labels)


def _uploaded(value) -> list[bytes]:
    """The files' contents of a FileUpload value (a dict in ipywidgets 7, a tuple in 8)."""
    files = value.values() if isinstance(value, dict) else value
    return [bytes(f["content"]) for f in files]


class ExplanationExplorer(LayerExplorer):
    """Pick an image (or upload one), a class (shown with the CNN's probabilities), a method
    and a layer: :func:`explanation_view` of the choice.

    The layer drives every layer-dependent method (those with a ``target_layer``: the CAM
    family), not only the side panels. Each (method, image, class, layer) is explained once,
    when first shown. ``render(image, method, layer, target=None)`` draws one view without
    any widget.
    """

    def __init__(self, model, images, explainers: dict, targets=None, k: int = 8,
                 class_names=None, masks=None, labels=None):
        if not explainers:
            raise ValueError("give at least one explainer: {name: explainer}")
        self.explainers, self.class_names, self._maps = dict(explainers), class_names, {}
        self._updating = False  # True while the class menu is refilled, not picked
        self.method = widgets.Dropdown(options=list(self.explainers), description="method")
        self.target_class = widgets.Dropdown(description="class")
        self.upload = widgets.FileUpload(accept="image/*", multiple=False,
                                         description="your image")
        super().__init__(model, images, targets, k, masks, labels)
        self._class_options(self.image.value)
        self.image.observe(lambda change: self._class_options(change["new"]), names="value")
        self.method.observe(lambda change: self.refresh(), names="value")
        self.target_class.observe(self._pick_class, names="value")
        self.upload.observe(self._upload, names="value")
        self.widget.children = (
            widgets.HBox([self.image, self.target_class, self.upload]),
            widgets.HBox([self.method, self.layer]), self.output)

    def class_name(self, index: int) -> str:
        return str(self.class_names[index]) if self.class_names else str(index)

    def class_choices(self, image: int) -> list[tuple[str, int]]:
        """``(label, class)`` for every class, likeliest first, each with its probability."""
        probabilities = self.probabilities(image)
        order = probabilities.argsort(descending=True).tolist()
        return [(f"{self.class_name(c)} ({probabilities[c]:.2f})", c) for c in order]

    def _class_options(self, image: int) -> None:
        """The class dropdown of ``image`` (the image slider redraws the view itself)."""
        self._updating = True
        self.target_class.options = self.class_choices(image)
        self.target_class.value = self.target(image)
        self._updating = False

    def _pick_class(self, change) -> None:
        if not self._updating:
            self.targets[self.image.value] = change["new"]
            self.refresh()

    def _upload(self, change) -> None:
        for content in _uploaded(change["new"]):
            self.add_image(content)
        self.image.value = self.image.max

    def add_image(self, image) -> int:
        """Add an image (a (C, H, W) tensor in [0, 1], a file's bytes or a path), resized to
        the CNN's input; returns its index."""
        if not torch.is_tensor(image):
            source = io.BytesIO(image) if isinstance(image, bytes) else image
            image = read_image(source, self.image_size, self.channels)
        if image.shape != (self.channels, self.image_size, self.image_size):
            raise ValueError(f"the explorer's images are {self.channels} x {self.image_size} x "
                             f"{self.image_size}, got {tuple(image.shape)}")
        self.items.added.append(image)
        self.image.max = len(self.items) - 1
        return self.image.max

    def layer_dependent(self, method: str) -> bool:
        return hasattr(self.explainers[method], "target_layer")

    def maps(self, method: str, image: int, target: int | None = None,
             layer: int | None = None) -> torch.Tensor:
        """(H, W) map of ``method`` for ``image`` and class ``target`` (default: the picked
        one), read at ``layer`` when the method has a target layer (default: its own)."""
        if method not in self.explainers:
            raise ValueError(f"unknown method {method!r}; choose from {list(self.explainers)}")
        target = self.target(image) if target is None else target
        explain = self.explainers[method]
        if layer is not None and self.layer_dependent(method):
            explain = copy.copy(explain)
            explain.target_layer = self.layers[layer][1]
        else:
            layer = None
        key = (method, image, target, layer)
        if key not in self._maps:
            picture = self.items[image]["image"][None]
            with warnings.catch_warnings():  # a blank panel already says it: no evidence
                warnings.simplefilter("ignore", ZeroMapWarning)
                self._maps[key] = explain(self.model, picture, [target])[0].detach().cpu()
        return self._maps[key]

    def caption(self, image: int, target: int) -> str:
        probabilities = self.probabilities(image)
        predicted = int(probabilities.argmax())
        label = self.items[image].get("label")
        true = "" if label is None else f"true {self.class_name(label)}, "
        return (f"image {image}: {true}predicted {self.class_name(predicted)} "
                f"({probabilities[predicted]:.2f})\nexplaining {self.class_name(target)} "
                f"({probabilities[target]:.2f})")

    def render(self, image: int, method: str, layer: int, target: int | None = None):
        target = self.target(image) if target is None else target
        item = self.items[image]
        return explanation_view(item["image"], self.maps(method, image, target, layer), method,
                                self.layer_maps(image, target), layer, self.layer_names,
                                self.k, self.caption(image, target), item.get("mask"))

    def current(self):
        return self.render(self.image.value, self.method.value, self.layer.value)


def explanation_explorer(model, images, explainers: dict, targets=None, k: int = 8,
                         class_names=None, masks=None, labels=None) -> ExplanationExplorer:
    """Pick an image (or upload one), a class, a method and a layer: the method's map beside
    the layer's Grad-CAM, over the image."""
    return ExplanationExplorer(model, images, explainers, targets, k, class_names, masks,
                               labels)
