"""ipywidgets explorers. Each widget's drawing is a plain function, testable without a browser."""
from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from .classifiers import conv_layers
from .plotting import to_numpy_image
from .representation import cumulative_positions, layer_gradcams


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
    n_layers = maps.shape[0]
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer must be in [0, {n_layers - 1}], got {layer}")
    depth = n_layers - 1 - layer  # position in the deepest-first order
    cumulative = maps[layer:].mean(0)
    kept = cumulative_positions(n_layers, k)
    name = layer_names[layer] if layer_names else f"layer {layer}"
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    axes[0].imshow(to_numpy_image(image))
    axes[0].set_title("image")
    axes[1].imshow(maps[layer].cpu().numpy(), cmap=cmap, vmin=0, vmax=1)
    axes[1].set_title(f"{name} ({layer + 1}/{n_layers})", fontsize=9)
    axes[2].imshow(cumulative.cpu().numpy(), cmap=cmap, vmin=0, vmax=1)
    label = (f"condition {kept.index(depth) + 1} of {k}" if depth in kept else "not kept")
    axes[2].set_title(f"mean of {depth + 1} deepest: {label}", fontsize=9)
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
        self.layer_names = [n for n, _ in conv_layers(model, image_size=images.shape[-1],
                                                      in_channels=images.shape[1])]
        self.maps = layer_gradcams(model, images, targets).cpu()
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
        return layer_view(self.images[image], self.maps[image], layer, self.layer_names, self.k)

    def refresh(self) -> None:
        self.output.clear_output(wait=True)
        with self.output:
            fig = self.render(self.image.value, self.layer.value)
            display(fig)
            plt.close(fig)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def layer_explorer(model, images: torch.Tensor, targets=None, k: int = 8) -> LayerExplorer:
    """Slider over layers: each layer's Grad-CAM and the cumulative map down to it."""
    return LayerExplorer(model, images, targets, k)
