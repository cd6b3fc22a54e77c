"""Finished results in a run folder: written atomically, marked finished by their settings,
skipped on a re-run with the same settings."""
from __future__ import annotations

import json
from pathlib import Path

from .io import atomic_path, differences, save_json
from .layout import RunLayout
from .plotting import plt


def finished(out: Path, settings: dict) -> bool:
    """Whether ``out`` holds a finished result made with these settings."""
    marker = out / "settings.json"
    if not marker.exists():
        return False
    saved = json.loads(marker.read_text())
    return set(saved) == set(settings) and not differences(saved, settings)


def save(out: Path, tables: dict | None = None, figures: dict | None = None,
         settings: dict | None = None) -> None:
    """Write tables (csv) and figures (png) atomically, then ``settings.json`` last: it marks
    the result finished, so an interruption before it only means the work is redone."""
    for filename, frame in (tables or {}).items():
        with atomic_path(out / filename) as tmp:
            frame.to_csv(tmp, index=False)
    for filename, figure in (figures or {}).items():
        with atomic_path(out / filename) as tmp:
            figure.savefig(tmp, dpi=110, format="png")
        plt.close(figure)
    if settings is not None:
        save_json(settings, out / "settings.json")


def record_time(run_dir: Path, stage: str, seconds: float) -> dict:
    """Add ``seconds`` to the stage's total in ``timings.json`` (over every invocation)."""
    path = RunLayout(run_dir).timings
    timings = json.loads(path.read_text()) if path.exists() else {}
    entry = timings.setdefault(stage, {"total_seconds": 0.0, "runs": 0})
    entry.update(total_seconds=entry["total_seconds"] + seconds, runs=entry["runs"] + 1,
                 last_seconds=seconds)
    save_json(timings, path)
    return timings
