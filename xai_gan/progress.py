"""Progress bars that draw only where someone watches them: a terminal or a notebook.

A log written to a file or a pipe gets no bar redraws, only the one line per epoch or stage
that the stages print.
"""
from __future__ import annotations

import sys

from tqdm.auto import tqdm

_hidden = False


def hide_bars() -> None:
    """No bars from this process (a worker beside others: :mod:`xai_gan.workers`)."""
    global _hidden
    _hidden = True


def in_notebook() -> bool:
    """True in a running Jupyter kernel (Colab's included)."""
    ipython = sys.modules.get("IPython")
    return getattr(ipython and ipython.get_ipython(), "kernel", None) is not None


def watched() -> bool:
    """True in a terminal (stderr is one) or a Jupyter kernel, unless :func:`hide_bars`."""
    return not _hidden and (sys.stderr.isatty() or in_notebook())


def progress_bar(*args, disable: bool = False, **kwargs) -> tqdm:
    """``tqdm.auto.tqdm``, disabled also where nobody watches (:func:`watched`)."""
    return tqdm(*args, disable=disable or not watched(), **kwargs)
