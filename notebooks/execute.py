"""Run notebooks top to bottom and store their outputs, so they read well on GitHub.

    XAI_GAN_PROFILE=full python notebooks/execute.py notebooks/*.ipynb   (or: make notebooks)

Each notebook runs in its own folder, as Jupyter and nbval run it, and is written back only
if every cell succeeded.
"""
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from xai_gan.io import atomic_path


def execute(path: Path, timeout: int = 1800) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    with atomic_path(path) as tmp:
        nbformat.write(notebook, tmp)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"executing {name}", flush=True)
        execute(Path(name))
