"""`make lab`: JupyterLab from the set-up's environment serves the notebook series, with the
widget manager the explorers need, and a browser loads it."""
import importlib.util
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from test_report import chromium_runs

ROOT = Path(__file__).resolve().parents[1]
JUPYTER = Path(sys.executable).parent / "jupyter"
TOKEN = "xai-gan-test"
pytestmark = pytest.mark.skipif(importlib.util.find_spec("jupyterlab") is None,
                                reason="JupyterLab is not installed (the lab extra)")


def test_the_make_target_opens_the_notebooks_folder():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab: .*\n\t\$\(VENV\)/bin/jupyter lab notebooks/$", makefile, re.M)
    assert "--extra lab" in makefile


def test_the_widget_manager_is_registered():
    out = subprocess.run([str(JUPYTER), "labextension", "list"], capture_output=True,
                         text=True, timeout=120)
    listed = out.stdout + out.stderr
    assert re.search(r"@jupyter-widgets/jupyterlab-manager.*enabled", listed), listed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``jupyter lab`` on the notebooks folder, as ``make lab`` starts it, headless."""
    port = free_port()
    log = (tmp_path_factory.mktemp("lab") / "lab.log").open("w")
    server = subprocess.Popen(
        [str(JUPYTER), "lab", str(ROOT / "notebooks"), "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", "--allow-root"],
        stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                get(f"{base}/api/status?token={TOKEN}")
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"jupyter lab exited: {Path(log.name).read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not answer within 60 s")
        yield base
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def test_jupyter_lab_serves_the_notebook_series(lab):
    page = get(f"{lab}/lab?token={TOKEN}")
    assert "JupyterLab" in page
    listing = json.loads(get(f"{lab}/api/contents/?token={TOKEN}"))
    names = {item["name"] for item in listing["content"]}
    assert {"00_quickstart.ipynb", "00b_pretrained_photos.ipynb", "07_explorer.ipynb"} <= names


@pytest.mark.skipif(not chromium_runs(),
                    reason="Chromium is not installed (make install adds it where apt runs)")
def test_headless_chromium_loads_the_lab(lab, tmp_path):
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={tmp_path}", "--virtual-time-budget=30000",
                          "--dump-dom", f"{lab}/lab?token={TOKEN}"],
                         capture_output=True, text=True, timeout=180).stdout
    assert "jp-LabShell" in dom, dom[-2000:]
