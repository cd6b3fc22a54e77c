"""Pictures: image grids with optional heat-map overlays and object outlines."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor in [0, 1] -> (H, W, 3) float array for ``imshow``."""
    array = image.detach().float().cpu().clamp(0, 1).numpy()
    return np.repeat(array, 3, 0).transpose(1, 2, 0) if array.shape[0] == 1 else \
        array.transpose(1, 2, 0)


def image_grid(images: torch.Tensor, titles=None, heatmaps: torch.Tensor | None = None,
               masks: torch.Tensor | None = None, ncols: int = 8, size: float = 1.8,
               alpha: float = 0.5, cmap: str = "jet"):
    """Show a batch of images in a grid.

    Parameters
    ----------
    images : (B, C, H, W) tensor in [0, 1]
    titles : list of str, optional
    heatmaps : (B, H, W) tensor in [0, 1], optional
        Drawn over the images with ``alpha``.
    masks : (B, H, W) tensor, optional
        Outlined in white (the ground-truth object).

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * nrows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        ax.imshow(to_numpy_image(images[i]))
        if heatmaps is not None:
            ax.imshow(heatmaps[i].detach().cpu().numpy(), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
        if masks is not None:
            ax.contour(masks[i].detach().cpu().numpy(), levels=[0.5], colors="white",
                       linewidths=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig
