"""Independent pieces of work (one method scored on one CNN) on the CPU's cores: a few
one-thread processes instead of one process whose threads wait on each other.

On the project's 2-core CPU the main job's evaluation (of three CNNs then) took 225 s on two
one-thread workers against 277 s in one two-thread process, from fresh clones one after the
other (1.23x); ``python benchmarks/workers.py``, side by side, gives 1.32x for scoring and
1.34x for training epochs. In the job, training gained less (158 s against 170 s: three CNNs
of unequal length on two workers), and work with a budget in seconds (the GANs) gets less done
when it shares the CPU, so both stay in one process. Larger tensors keep a second thread busy:
the pretrained EfficientNet-Lite0's evaluation at 128 px took 468 s on the workers and 458 s
in one process.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable

import torch

from . import progress
from .devices import resolve_device

_POOLS: dict[tuple[int, int], ProcessPoolExecutor] = {}


def default_workers(device=None) -> int:
    """How many processes share the evaluation's work: 2 on a CPU with two or more threads, else 1
    (a GPU's work is one process's; in Jupyter, lines printed by other processes would miss
    the notebook)."""
    if resolve_device(device).type != "cpu" or progress.in_notebook():
        return 1
    return 2 if torch.get_num_threads() >= 2 else 1


def _start(threads: int) -> None:
    torch.set_num_threads(threads)
    progress.hide_bars()  # the bars of two processes would draw over each other


def _pool(workers: int, threads: int) -> ProcessPoolExecutor:
    """One pool per size, kept for the next stage: starting a process (importing torch)
    costs seconds."""
    key = (workers, threads)
    if key not in _POOLS:
        _POOLS[key] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                          initializer=_start, initargs=(threads,))
    return _POOLS[key]


def run(func: Callable, tasks: Iterable[tuple], workers: int | None = None) -> list:
    """``[func(*task) for task in tasks]``, spread over ``workers`` processes (default:
    :func:`default_workers`) that split this process's threads between them.

    Tasks start in the order given (put the longest first) and the results come back in that
    order; the first task that raises stops the rest, and its error is raised here. ``func``
    must be importable (a module's top-level function). One worker, or one task, runs here.
    """
    tasks = list(tasks)
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(tasks) <= 1:
        return [func(*task) for task in tasks]
    threads = max(1, torch.get_num_threads() // workers)
    pool = _pool(workers, threads)
    futures = [pool.submit(func, *task) for task in tasks]
    try:
        return [future.result() for future in futures]
    except BrokenProcessPool:
        _POOLS.pop((workers, threads), None)  # a dead worker (killed, out of memory)
        raise
    finally:
        for future in futures:
            future.cancel()
