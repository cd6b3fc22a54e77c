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


def overlay(ax, image: torch.Tensor, heat: torch.Tensor | None = None,
            mask: torch.Tensor | None = None, alpha: float = 0.5, cmap: str = "jet",
            linewidth: float = 1.0) -> None:
    """Draw ``image`` into ``ax``, ``heat`` (H, W) in [0, 1] over it and ``mask``'s outline in
    white."""
    ax.imshow(to_numpy_image(image))
    if heat is not None:
        ax.imshow(heat.detach().float().cpu().numpy(), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
    if mask is not None:
        ax.contour(mask.detach().float().cpu().numpy(), levels=[0.5], colors="white",
                   linewidths=linewidth)


def colour_bar(fig, axes, cmap: str = "jet", label: str = "relevance (each map scaled to [0, 1])"):
    """One colour bar for every map in ``axes``, which all share the [0, 1] scale."""
    mappable = plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap=cmap)
    bar = fig.colorbar(mappable, ax=np.asarray(axes).ravel().tolist(), shrink=0.8, pad=0.02)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return bar


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
        overlay(ax, images[i], None if heatmaps is None else heatmaps[i],
                None if masks is None else masks[i], alpha, cmap)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    if heatmaps is not None:
        colour_bar(fig, axes, cmap)
    return fig


def method_grid(images: torch.Tensor, maps: dict, masks: torch.Tensor | None = None,
                titles=None, size: float = 1.5, alpha: float = 0.5, cmap: str = "jet"):
    """One row per image: the image, then each method's map over it.

    Parameters
    ----------
    images : (B, C, H, W) tensor in [0, 1]
    maps : ``{method: (B, H, W) tensor in [0, 1]}``, one column each, in order
    masks : (B, H, W) tensor, optional; the ground-truth object, outlined in white
    titles : list of B str, optional; written under each image (e.g. the predicted class)
    """
    ncols = 1 + len(maps)
    fig, axes = plt.subplots(len(images), ncols, figsize=(size * ncols, size * len(images) + 0.4),
                             squeeze=False)
    for row, image in enumerate(images):
        for col, ax in enumerate(axes[row]):
            method = list(maps)[col - 1] if col else None
            overlay(ax, image, maps[method][row] if col else None,
                    None if masks is None else masks[row], alpha, cmap, linewidth=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(method or "image", fontsize=8)
        if titles is not None:
            axes[row][0].set_ylabel(titles[row], fontsize=8)
    fig.tight_layout()
    colour_bar(fig, axes, cmap)
    return fig


def metric_bars(table, metrics=None, ncols: int = 4, size: float = 3.0):
    """One bar chart per metric: mean and 95 % interval (1.96 standard errors) of each
    method over images.

    ``table`` is :func:`xai_gan.metrics.evaluate`'s tidy output; each panel's title says
    whether higher or lower is better.
    """
    import seaborn as sns

    metrics = list(dict.fromkeys(table.metric)) if metrics is None else list(metrics)
    ncols = min(ncols, len(metrics))
    nrows = -(-len(metrics) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, 0.8 * size * nrows),
                             squeeze=False)
    for ax in axes.flat[len(metrics):]:
        ax.axis("off")
    for ax, metric in zip(axes.flat, metrics):
        rows = table[table.metric == metric]
        sns.barplot(rows, x="value", y="method", hue="method", errorbar=("se", 1.96), ax=ax,
                    legend=False)
        ax.set_title(f"{metric} ({rows.better.iloc[0]} is better)", fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.tight_layout()
    return fig


def rank_table(summary, references=(), trivial=(), size: float = 0.75):
    """Methods x metrics heat map coloured by rank (1 = best, green), annotated with means.

    ``summary`` is :func:`xai_gan.metrics.summarise`'s output. The rows of ``references`` (maps
    that know nothing of the CNN) and the ``trivial`` ``(method, metric)`` cells (true by
    construction) are hatched and labelled, so their colours are not read as rankings
    (:func:`xai_gan.metrics.not_rankings` gives both).
    """
    import seaborn as sns

    ranks = summary.pivot(index="method", columns="metric", values="rank")
    means = summary.pivot(index="method", columns="metric", values="mean")
    order = list(dict.fromkeys(summary.metric))
    ranks, means = ranks[order], means[order]
    fig, ax = plt.subplots(figsize=(2 + size * 1.2 * len(order), 2.2 + size * 0.6 * len(ranks)))
    sns.heatmap(ranks, annot=means.map(lambda v: f"{v:.3g}"), fmt="", cmap="RdYlGn_r",
                cbar_kws={"label": "rank (1 = best)"}, ax=ax, annot_kws={"fontsize": 7})
    better = summary.drop_duplicates("metric").set_index("metric").better
    ax.set_xticklabels([f"{m}\n({'↑' if better[m] == 'higher' else '↓'})" for m in order],
                       rotation=60, ha="right", fontsize=8)
    ax.tick_params(axis="y", rotation=0)
    ax.set_xlabel("")
    ax.set_ylabel("")
    _hatch(ax, list(ranks.index), order, references, trivial)
    fig.tight_layout()
    return fig


def _hatch(ax, methods: list, metrics: list, references, trivial) -> None:
    """Hatch the reference rows and the trivial cells of a rank table, and say so."""
    cells = {(m, metric) for m in references if m in methods for metric in metrics}
    cells |= {(m, metric) for m, metric in trivial if m in methods and metric in metrics}
    for method, metric in cells:
        ax.add_patch(plt.Rectangle((metrics.index(metric), methods.index(method)), 1, 1,
                                   fill=False, hatch="///", edgecolor="0.4", linewidth=0))
    ax.set_yticklabels([f"{m} (reference)" if m in references else m for m in methods])
    if cells:
        ax.set_title("hatched: a reference map or a score\ntrue by construction, not a ranking",
                     fontsize=8)


def condition_bars(table, images: int = 4, size: float = 3.0):
    """Condition relevance (:func:`xai_gan.interpret.condition_relevance`): the mean change
    per condition map over all images (with 95 % intervals), then one panel per image for the
    first ``images`` images."""
    import seaborn as sns

    # per-image panels: the first CNN's images when several CNNs' tables are pooled
    single = table[table.model == table.model.iloc[0]] if "model" in table else table
    prefix = f"{single.model.iloc[0]}, " if "model" in table else ""
    shown = sorted(single.image.unique())[:images]
    fig, axes = plt.subplots(1, 1 + len(shown), figsize=(size * (1.6 + len(shown)), size),
                             gridspec_kw={"width_ratios": [1.6] + [1] * len(shown)},
                             squeeze=False)
    axes = axes[0]
    sns.barplot(table, x="condition", y="change", color="tab:blue", errorbar=("ci", 95),
                ax=axes[0], seed=0)
    axes[0].set_title(f"mean over {len(table) // table.condition.nunique()} images",
                      fontsize=9)
    axes[0].set_xlabel("condition removed (0 = deepest layer only)")
    axes[0].set_ylabel("mean |change| of the map")
    for ax, image in zip(axes[1:], shown):
        rows = single[single.image == image]
        ax.bar(rows.condition, rows.change, color="tab:gray")
        ax.set_title(f"{prefix}image {image}", fontsize=9)
        ax.set_xlabel("condition")
    fig.tight_layout()
    return fig


def transfer_heatmap(table, metric: str = "pearson", size: float = 0.9):
    """Generators (rows) x test stores (columns), coloured and annotated by ``metric``
    (:func:`xai_gan.interpret.transfer`'s output)."""
    import seaborn as sns

    grid = table.pivot(index="gan", columns="tested_on", values=metric)
    grid = grid.loc[list(dict.fromkeys(table.gan)), list(dict.fromkeys(table.tested_on))]
    fig, ax = plt.subplots(figsize=(2.5 + size * 1.6 * grid.shape[1], 1.2 + size * grid.shape[0]))
    sns.heatmap(grid, annot=True, fmt=".3f", cmap="viridis", vmin=0, vmax=1, ax=ax,
                cbar_kws={"label": metric})
    ax.set_xlabel("tested on")
    ax.set_ylabel("GAN trained on")
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


def _label_points(ax, xs, ys, highlight, fontsize: float = 8):
    """Name each point beside it; a name that would overlap one already placed moves up or
    down a line at a time (highest points first), joined to its point by a thin line."""
    ax.autoscale_view()
    scale = ax.figure.dpi / 72  # points to pixels
    height = 1.25 * fontsize * scale
    placed = []
    for method in ys.sort_values(ascending=False).index:
        px, py = ax.transData.transform((xs[method], ys[method]))
        width = 0.6 * fontsize * scale * len(str(method))
        for step in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5):
            x0, y0 = px + 4 * scale, py + 3 * scale + step * height
            box = (x0, y0, x0 + width, y0 + height)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                       for b in placed):
                break
        placed.append(box)
        hot = method in highlight
        ax.annotate(method, (xs[method], ys[method]), textcoords="offset points",
                    xytext=(4, 3 + step * height / scale), fontsize=fontsize,
                    color="tab:red" if hot else "0.2",
                    arrowprops={"arrowstyle": "-", "color": "0.7", "lw": 0.5} if step else None)


def quality_cost(means, quality: str, highlight=(), size: float = 5.0):
    """Each method's quality against its cost (ms per image, log scale), the Pareto frontier
    (no other method is both cheaper and better) drawn as a step line.

    ``means`` has one row per method (index) and columns ``quality`` and ``ms_per_image``;
    ``quality`` is a higher-is-better metric. Methods in ``highlight`` are drawn in red.
    """
    fig, ax = plt.subplots(figsize=(1.4 * size, size))
    order = means.sort_values(["ms_per_image", quality], ascending=[True, False])
    frontier, best = [], -np.inf
    for method, row in order.iterrows():
        if row[quality] > best:
            frontier.append(method)
            best = row[quality]
    front = means.loc[frontier]
    ax.step(front.ms_per_image, front[quality], where="post", color="0.6", lw=1, zorder=1,
            label="frontier (cheapest for its quality)")
    for method, row in means.iterrows():
        hot = method in highlight
        ax.scatter(row.ms_per_image, row[quality], s=70 if hot else 30, zorder=2,
                   color="tab:red" if hot else ("tab:blue" if method in frontier else "0.5"))
    ax.set_xscale("log")
    fig.tight_layout()  # the labels are placed in the final layout's pixels
    _label_points(ax, means.ms_per_image, means[quality], highlight)
    # 1-2-5 labels: every minor tick labelled crowds the axis
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(plt.FuncFormatter(
        lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("ms per image (log scale; lower is cheaper)")
    ax.set_ylabel(f"{quality} (higher is better)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
