"""The run's HTML report: one self-contained file (figures inlined) from the run folder.

Everything is read from what the stages wrote (``summary.json``, ``timings.json``,
``evaluation/``, ``gan/``, ``studies/``), so the report can be rebuilt at any time and shows
whatever has finished. ``results.md`` beside it holds the methods x metrics table as
Markdown, for a README.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from .io import atomic_path
from .metrics import METRICS, available

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; } .note { color: #555; } pre { background: #f6f6f6; padding: 1em; }
"""


def _image(path: Path) -> str:
    if not path.exists():
        return f'<p class="note">({html.escape(path.name)} not written yet)</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}g}", border=0,
                         na_rep="")


def results_table(run_dir: str | Path) -> pd.DataFrame:
    """Methods x metrics: the mean of every metric over the run's CNNs (each CNN's mean over
    its test images), columns in the order of :func:`xai_gan.metrics.available`."""
    files = sorted(Path(run_dir).glob("evaluation/*/summary.csv"))
    if not files:
        return pd.DataFrame()
    summary = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    table = summary.pivot_table(index="method", columns="metric", values="mean", sort=False)
    return table[[m for m in available() if m in table.columns]].reset_index()


def _arrow(metric: str) -> str:
    return "↑" if METRICS[metric].better == "higher" else "↓"


def markdown(table: pd.DataFrame) -> str:
    """:func:`results_table` as Markdown, the best value of each metric in bold."""
    metrics = [c for c in table.columns if c != "method"]
    lines = ["| method | " + " | ".join(f"{m} {_arrow(m)}" for m in metrics) + " |",
             "|---" * (len(metrics) + 1) + "|"]
    best = {m: (table[m].max() if METRICS[m].better == "higher" else table[m].min())
            for m in metrics}
    for _, row in table.iterrows():
        cells = [f"**{row[m]:.3g}**" if row[m] == best[m] else f"{row[m]:.3g}" for m in metrics]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def _section_studies(run_dir: Path, skipped: dict) -> list[str]:
    parts = ["<h2>Studies</h2>"]
    out = run_dir / "studies" / "condition-relevance"
    parts.append("<h3>Condition relevance</h3><p>Each of the k condition maps is replaced by "
                 "zeros in turn; the bars are the mean absolute change of the GAN's map (condition 0 "
                 "is the deepest layer alone, the last condition the mean of every layer).</p>")
    verdict = _read_json(out / "verdict.json")
    if verdict:
        parts.append(f"<p><b>{html.escape(verdict['verdict'])}</b></p>")
    parts.append(_image(out / "bars.png"))
    if (out / "summary.csv").exists():
        parts.append(_table(pd.read_csv(out / "summary.csv").query("model == 'all'")))
    for name, title, text in [
            ("cross-architecture", "Cross-architecture generalisation",
             "For each CNN, a GAN trained without it; rows are GANs, columns the CNN whose "
             "test store it explains (Pearson to the teacher's map)."),
            ("cross-dataset", "Cross-dataset generalisation",
             "A GAN trained on each dataset (same CNN architecture), tested on both.")]:
        out = run_dir / "studies" / name
        parts.append(f"<h3>{title}</h3>")
        if name in skipped:
            parts.append(f'<p class="note">Skipped: {html.escape(skipped[name])}</p>')
            continue
        parts.append(f"<p>{text}</p>")
        parts.append(_image(out / "pearson.png"))
        for filename in ("gap.csv", "transfer.csv"):
            if (out / filename).exists():
                parts.append(_table(pd.read_csv(out / filename)))
    return parts


def write(config) -> Path:
    """Write ``report.html`` and ``results.md`` into ``config.run_dir``; return the report's
    path."""
    run_dir = Path(config.run_dir)
    summary = _read_json(run_dir / "summary.json") or {}
    timings = _read_json(run_dir / "timings.json") or {}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>xai-gan report: "
             f"{html.escape(str(run_dir))}</title><style>{STYLE}</style></head><body>",
             f"<h1>xai-gan report</h1><p class='note'>run folder {html.escape(str(run_dir))}, "
             f"profile {html.escape(str(summary.get('profile')))}</p>"]
    if timings:
        frame = pd.DataFrame([{"stage": stage, "seconds (this run)": t.get("last_seconds"),
                               "seconds (all runs)": t["total_seconds"], "runs": t["runs"]}
                              for stage, t in timings.items()])
        parts += ["<h2>Timings</h2>", _table(frame, 4)]
    if summary.get("classifiers"):
        parts += ["<h2>Classifiers</h2>", _table(pd.DataFrame(summary["classifiers"]), 4)]
    if summary.get("gan"):
        history = pd.DataFrame(summary["gan"])
        parts += ["<h2>GAN training</h2>", f"<p>{html.escape(str(config.gan_dir))}</p>",
                  _table(history, 4)]
    table = results_table(run_dir)
    if len(table):
        parts += ["<h2>Every explainer x every metric</h2><p>Means over the test images, "
                  "then over the CNNs; ↑ higher is better, ↓ lower. Per-CNN tables, charts "
                  "and examples follow.</p>", _table(table)]
    for folder in sorted(run_dir.glob("evaluation/*/")):
        parts.append(f"<h3>{html.escape(folder.name)}</h3>")
        parts += [_image(folder / name) for name in
                  ("examples.png", "rank_table.png", "metric_bars.png")]
    skipped = {name: value for name, value in summary.get("studies", {}).items()
               if value != "done"}
    parts += _section_studies(run_dir, skipped)
    parts += ["<h2>Configuration</h2>",
              f"<pre>{html.escape(json.dumps(summary.get('config', {}), indent=2))}</pre>",
              "</body></html>"]
    path = run_dir / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    if len(table):
        with atomic_path(run_dir / "results.md") as tmp:
            tmp.write_text(markdown(table), encoding="utf-8")
    return path
