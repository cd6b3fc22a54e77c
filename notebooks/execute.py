"""Run notebooks top to bottom and store their outputs, so they read well on GitHub.

    XAI_GAN_PROFILE=full python notebooks/execute.py notebooks/*.ipynb   (or: make notebooks)

Each notebook runs in its own folder, as Jupyter and nbval run it, and is written back only
if every cell succeeded. Progress bars are dropped from the stored outputs: without a widget
front end, tqdm.auto stores each bar as a widget whose text is frozen at its first draw
("0%"), and the widgets' state in the notebook's metadata (hundreds of kilobytes that no
viewer renders); they stay live when a reader runs the notebook.
"""
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from xai_gan.io import atomic_path


WIDGET = "application/vnd.jupyter.widget-view+json"


def is_progress_bar(output) -> bool:
    text = "".join(output.get("data", {}).get("text/plain", ""))
    return WIDGET in output.get("data", {}) and "|" in text and "/" in text


def drop_progress_bars(notebook) -> None:
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not is_progress_bar(o)]


def execute(path: Path, timeout: int = 1800) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    drop_progress_bars(notebook)
    with atomic_path(path) as tmp:
        nbformat.write(notebook, tmp)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"executing {name}", flush=True)
        execute(Path(name))
