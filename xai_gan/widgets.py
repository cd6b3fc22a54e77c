"""ipywidgets explorers. Each widget's drawing is a plain function, testable without a browser.

Works with ipywidgets 7.7 (what Colab ships) and 8: only sliders, a dropdown, boxes, an
Output, ``observe(names="value")`` and ``clear_output(wait=True)``, which both have; they
differ in how a widget is displayed, which the explorers follow (see ``WIDGETS_8``).
"""
from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from .classifiers import predict
from .modules import representation_layers
from .plotting import to_numpy_image
from .representation import cumulative_positions, layer_gradcams

# ipywidgets 8 displays a widget through _repr_mimebundle_, 7 through _ipython_display_
WIDGETS_8 = hasattr(widgets.Widget, "_repr_mimebundle_")


def _layer_panels(axes, maps: torch.Tensor, layer: int, layer_names, k: int, cmap: str):
    """Draw one layer's Grad-CAM and the cumulative map down to it into two axes."""
    n_layers = maps.shape[0]
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer must be in [0, {n_layers - 1}], got {layer}")
    depth = n_layers - 1 - layer  # position in the deepest-first order
    kept = cumulative_positions(n_layers, k)
    name = layer_names[layer] if layer_names else f"layer {layer}"
    axes[0].imshow(maps[layer].cpu().numpy(), cmap=cmap, vmin=0, vmax=1)
    axes[0].set_title(f"{name} ({layer + 1}/{n_layers})", fontsize=9)
    axes[1].imshow(maps[layer:].mean(0).cpu().numpy(), cmap=cmap, vmin=0, vmax=1)
    label = (f"condition {kept.index(depth) + 1} of {k}" if depth in kept else "not kept")
    axes[1].set_title(f"mean of {depth + 1} deepest: {label}", fontsize=9)


def layer_view(image: torch.Tensor, maps: torch.Tensor, layer: int, layer_names=None,
               k: int = 8, cmap: str = "jet"):
    """Image, the Grad-CAM of one layer, and the cumulative map down to that layer.

    Parameters
    ----------
    image : (C, H, W) tensor
    maps : (L, H, W) tensor, per-layer maps shallow to deep (one image of
        :func:`xai_gan.representation.layer_gradcams`)
    layer : int
        Index into ``maps``. The cumulative map is the mean of this layer and every deeper
        one; the title says whether it is one of the k kept as GAN conditions.

    Returns
    -------
    matplotlib.figure.Figure with three panels.
    """
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    _layer_panels(axes[1:], maps, layer, layer_names, k, cmap)
    axes[0].imshow(to_numpy_image(image))
    axes[0].set_title("image")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def explanation_view(image: torch.Tensor, heat: torch.Tensor, method: str, maps: torch.Tensor,
                     layer: int, layer_names=None, k: int = 8, caption: str = "image",
                     cmap: str = "jet", alpha: float = 0.5):
    """One method's map beside what one layer saw: four panels.

    The image (``caption`` as its title, e.g. the prediction), ``heat`` (the method's (H, W)
    map) over it, then :func:`layer_view`'s layer Grad-CAM and cumulative map for ``layer``.
    """
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
    axes[0].imshow(to_numpy_image(image))
    axes[0].set_title(caption, fontsize=9)
    axes[1].imshow(to_numpy_image(image))
    axes[1].imshow(heat.detach().float().cpu().numpy(), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
    axes[1].set_title(method, fontsize=9)
    _layer_panels(axes[2:], maps, layer, layer_names, k, cmap)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


class LayerExplorer:
    """A slider over layers and one over images, redrawing :func:`layer_view`.

    Displaying the object shows the widget; ``render(image, layer)`` draws one view.
    """

    def __init__(self, model, images: torch.Tensor, targets=None, k: int = 8):
        self.images, self.k = images, k
        self.layer_names = [n for n, _ in representation_layers(
            model, image_size=images.shape[-1], in_channels=images.shape[1])]
        self.layer_maps = layer_gradcams(model, images, targets).cpu()
        n_layers = len(self.layer_names)
        self.layer = widgets.IntSlider(value=n_layers - 1, min=0, max=n_layers - 1,
                                       description="layer", continuous_update=False)
        self.image = widgets.IntSlider(value=0, min=0, max=len(images) - 1,
                                       description="image", continuous_update=False)
        self.output = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.image, self.layer]), self.output])
        for slider in (self.layer, self.image):
            slider.observe(lambda change: self.refresh(), names="value")
        self.refresh()

    def render(self, image: int, layer: int):
        return layer_view(self.images[image], self.layer_maps[image], layer, self.layer_names,
                          self.k)

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


def layer_explorer(model, images: torch.Tensor, targets=None, k: int = 8) -> LayerExplorer:
    """Slider over layers: each layer's Grad-CAM and the cumulative map down to it."""
    return LayerExplorer(model, images, targets, k)


class ExplanationExplorer(LayerExplorer):
    """Pick an image, a method and a layer: :func:`explanation_view` of the choice.

    Each method explains every image once, the first time it is picked (``maps`` caches it).
    ``render(image, method, layer)`` draws one view without any widget.
    """

    def __init__(self, model, images: torch.Tensor, explainers: dict, targets=None, k: int = 8,
                 class_names=None):
        if not explainers:
            raise ValueError("give at least one explainer: {name: explainer}")
        self.model, self.explainers, self.method_maps = model, dict(explainers), {}
        self.predicted = predict(model, images).argmax(1)
        self.targets = self.predicted if targets is None else torch.as_tensor(targets)
        self.class_names = class_names
        self.method = widgets.Dropdown(options=list(self.explainers), description="method")
        super().__init__(model, images, self.targets, k)
        self.method.observe(lambda change: self.refresh(), names="value")
        self.widget.children = (widgets.HBox([self.image, self.method, self.layer]),
                                self.output)

    def maps(self, method: str) -> torch.Tensor:
        """(B, H, W) maps of ``method`` for every image, computed once."""
        if method not in self.explainers:
            raise ValueError(f"unknown method {method!r}; choose from {list(self.explainers)}")
        if method not in self.method_maps:
            self.method_maps[method] = self.explainers[method](
                self.model, self.images, self.targets).detach().cpu()
        return self.method_maps[method]

    def render(self, image: int, method: str, layer: int):
        predicted = int(self.predicted[image])
        name = self.class_names[predicted] if self.class_names else predicted
        return explanation_view(self.images[image], self.maps(method)[image], method,
                                self.layer_maps[image], layer, self.layer_names, self.k,
                                caption=f"image {image}: predicted {name}")

    def current(self):
        return self.render(self.image.value, self.method.value, self.layer.value)


def explanation_explorer(model, images: torch.Tensor, explainers: dict, targets=None,
                         k: int = 8, class_names=None) -> ExplanationExplorer:
    """Pick an image, a method and a layer: the method's map beside the layer's Grad-CAM."""
    return ExplanationExplorer(model, images, explainers, targets, k, class_names)

