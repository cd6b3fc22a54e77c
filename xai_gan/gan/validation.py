"""Scoring a generator on a validation store: how close its maps are to the teacher's, the
collapse diagnostics and, for a generator trained through its CNN, the faithfulness term."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from ..maps import mae, pearson, ssim
from ..scoped import eval_mode
from .collapse import signs
from .faithfulness import saturation_barrier
from .objectives import Faithfulness
from .stores import as_list


@torch.no_grad()
def validate(generator, store: Dataset, batch_size: int = 64, device=None,
             classifier: torch.nn.Module | list | None = None,
             input_size: int | list | None = None, deletion_weight: float = 0.0,
             average: tuple | None = None) -> dict:
    """Mean L1, SSIM and Pearson of the generated maps to the store's teacher maps, and the
    collapse diagnostics (:func:`~xai_gan.gan.collapse.signs`, against the ``average`` maps
    of the training store when given).

    With a ``classifier``, also ``val_faith``, the faithfulness loss (with
    ``deletion_weight``) run at ``input_size``, what ``best.pt`` is chosen by under the
    faithful objective, and ``val_barrier``, its saturation barrier, reported apart so that
    the score the metrics measure is not mixed with a regulariser. For a combined store,
    ``classifier`` and ``input_size`` are lists, one per store, and each item is scored by
    its store's CNN.
    """
    device = device or next(generator.parameters()).device
    faithfulness = None
    if classifier is not None:
        faithfulness = Faithfulness(as_list(classifier), as_list(input_size),
                                    deletion_weight=deletion_weight)
    scores = {"l1": [], "ssim": [], "pearson": []}
    faith, barrier, heats, teacher_maps = [], [], [], []
    with eval_mode(generator):
        for batch in DataLoader(store, batch_size=batch_size):
            images = batch["image"].to(device)
            heat = generator(images, batch["conditions"].to(device), batch.get("pred")).float()
            if faithfulness is not None:
                faith.append(len(images) * faithfulness.loss(images, heat, batch,
                                                             saturation_weight=0).item())
                barrier.append(len(images) * saturation_barrier(heat).item())
            heat, teacher_map = heat[:, 0].cpu(), batch["teacher_map"]
            scores["l1"].append(mae(heat, teacher_map))
            scores["ssim"].append(ssim(heat, teacher_map))
            scores["pearson"].append(pearson(heat, teacher_map))
            heats.append(heat)
            teacher_maps.append(teacher_map)
    out = {f"val_{name}": torch.cat(values).nanmean().item() for name, values in scores.items()}
    out.update(signs(torch.cat(heats), torch.cat(teacher_maps), average))
    if faithfulness is not None:
        out["val_faith"] = sum(faith) / len(store)
        out["val_barrier"] = sum(barrier) / len(store)
    return out
