"""The claims the notebooks' prose makes, as their stored outputs show them: every
``xg.claims.check`` printed a claim that held, none is marked unchecked, no cell failed.

The outputs are stored by ``make notebooks`` at full size (notebook 08's at the ``ci`` size, as
its first cell says), so a claim that needs the full-size run is checked here, not only
printed; a notebook whose sources gained a check since its outputs were stored fails too."""
import json
from pathlib import Path

import pytest

from xai_gan import claims

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))


def code_cells(path: Path):
    cells = json.loads(path.read_text())["cells"]
    return [(i, cell) for i, cell in enumerate(cells) if cell["cell_type"] == "code"]


def printed(cell) -> str:
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])
                   if o["output_type"] == "stream")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_stored_claim_was_checked_and_held(path):
    checks = 0
    for index, cell in code_cells(path):
        calls = "".join(cell["source"]).count("claims.check(")
        text = printed(cell)
        assert cell["execution_count"] is not None, f"cell {index} was never run"
        assert not any(o["output_type"] == "error" for o in cell.get("outputs", [])), index
        assert claims.UNCHECKED not in text, (
            f"cell {index}: {text[text.index(claims.UNCHECKED):][:300]}")
        assert text.count(claims.HOLDS) >= calls, (
            f"cell {index} makes {calls} claims but its stored output shows "
            f"{text.count(claims.HOLDS)}: run `make notebooks` again")
        checks += calls
    assert checks >= 2, f"{path.name} checks only {checks} claims"


def test_the_marks_are_what_check_prints(capsys, monkeypatch):
    """The test above reads these marks: it fails if check stops printing them."""
    monkeypatch.setenv("XAI_GAN_PROFILE", "ci")
    claims.check(True, "a")
    claims.check(False, "b", full_size=True)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(claims.HOLDS) and out[1].startswith(claims.UNCHECKED)
