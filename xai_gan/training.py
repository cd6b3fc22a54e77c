"""What the CNN and the GAN trainers share: one epoch loop with a time budget over the whole
run (resumes included), the NaN check, and the same-run check for resuming."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
from .progress import progress_bar

from .io import differences


@dataclass
class Epoch:
    """What :func:`run_epoch` measured: per-batch means of the step's values, the number of
    batches, the epoch's training seconds and whether the budget ended it."""

    means: dict
    batches: int
    seconds: float
    out_of_time: bool


def budget_spent(state: dict, max_seconds: float | None) -> bool:
    """Whether a checkpoint ``state`` is finished: its budget stopped it and the resumed run's
    ``max_seconds`` is no larger than the time it trained (a larger budget, or none, trains
    on)."""
    history = state.get("history") or [{"seconds": 0.0}]
    return bool(state.get("stopped_by_budget")) and max_seconds is not None \
        and history[-1]["seconds"] >= max_seconds


def check_finite(loss: torch.Tensor, what: str, epoch: int, hint: str = "") -> None:
    """Raise ``FloatingPointError`` before a NaN or infinite loss reaches the weights."""
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{what} became {loss.item()} at epoch {epoch}" + hint)


def run_epoch(batches: Iterable, step: Callable[[dict], dict], *, spent: float = 0.0,
              max_seconds: float | None = None, desc: str = "", progress: bool = True) -> Epoch:
    """Call ``step(batch) -> {name: float}`` on every batch.

    Stops after the first batch that takes the run's training time (``spent`` before this
    epoch, plus this epoch's) past ``max_seconds``.
    """
    sums: dict[str, float] = {}
    count, out_of_time, tic = 0, False, time.perf_counter()
    bar = progress_bar(batches, desc=desc, disable=not progress, leave=False)
    for batch in bar:
        for name, value in step(batch).items():
            sums[name] = sums.get(name, 0.0) + value
        count += 1
        bar.set_postfix({name: f"{value / count:.3g}" for name, value in sums.items()})
        if max_seconds is not None and spent + time.perf_counter() - tic > max_seconds:
            out_of_time = True
            break
    bar.close()
    return Epoch({name: value / max(count, 1) for name, value in sums.items()}, count,
                 time.perf_counter() - tic, out_of_time)


def check_same_run(saved: dict, current: dict, path, remedy: str) -> None:
    """Refuse to resume ``path`` when its recorded settings differ from ``current``'s."""
    different = differences(saved, current)
    if different:
        raise ValueError(f"{path} belongs to another run ({different}): {remedy}")
