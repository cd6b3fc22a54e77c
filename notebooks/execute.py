"""Run notebooks top to bottom and store their outputs, so they read well on GitHub.

    XAI_GAN_PROFILE=full python notebooks/execute.py notebooks/*.ipynb   (or: make notebooks)

Each notebook runs in its own folder, as Jupyter and nbval run it, and is written back only
if every cell succeeded; a failed one is reported and the next one runs. Each notebook's wall
time is printed (README's notebook table quotes them). Progress bars are dropped from the stored outputs: without a widget
front end, tqdm.auto stores each bar as a widget whose text is frozen at its first draw
("0%"), and the widgets' state in the notebook's metadata (hundreds of kilobytes that no
viewer renders); they stay live when a reader runs the notebook. Heavy PNG figures are stored
as JPEG.
"""
import base64
import io
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from xai_gan.io import atomic_path


WIDGET = "application/vnd.jupyter.widget-view+json"
HEAVY_PNG = 150_000  # bytes of base64: a figure above it is stored as JPEG (photos and heat maps)


def is_progress_bar(output) -> bool:
    text = "".join(output.get("data", {}).get("text/plain", ""))
    return WIDGET in output.get("data", {}) and "|" in text and "/" in text


def drop_progress_bars(notebook) -> None:
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not is_progress_bar(o)]


def lighten_figures(notebook) -> None:
    """Store heavy PNG figures as JPEG (quality 85): heat maps and photos compress badly as PNG,
    and a notebook should open quickly on GitHub and in Colab."""
    from PIL import Image

    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png is None or len(png) < HEAVY_PNG:
                continue
            buffer = io.BytesIO()
            Image.open(io.BytesIO(base64.b64decode(png))).convert("RGB").save(
                buffer, "JPEG", quality=85)
            output["data"]["image/jpeg"] = base64.b64encode(buffer.getvalue()).decode()
            del output["data"]["image/png"]


def execute(path: Path, timeout: int = 7200) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    drop_progress_bars(notebook)
    lighten_figures(notebook)
    with atomic_path(path) as tmp:
        nbformat.write(notebook, tmp)


def main(names: list[str]) -> int:
    failed = []
    for name in names:
        print(f"executing {name}", flush=True)
        start = time.perf_counter()
        try:
            execute(Path(name))
        except Exception as err:  # report it, store nothing, go on with the next notebook
            failed.append(name)
            print(f"FAILED {name}: {type(err).__name__}: {str(err)[-2000:]}", flush=True)
        minutes, seconds = divmod(round(time.perf_counter() - start), 60)
        print(f"{name}: {minutes} min {seconds:02d} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
