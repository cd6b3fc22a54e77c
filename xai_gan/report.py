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

from . import explainers, gan
from .io import atomic_path
from .layout import RunLayout
from .metrics import CATEGORIES, METRICS, available, half_width
from .studies import STUDIES

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
.wide { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
tr.gan td { background: #fff1e6; } tr.rival td { background: #faf6f1; }
tr.reference td { color: #777; font-style: italic; }
.lead { font-size: 1.05em; }
img { max-width: 100%; } .note { color: #555; }
pre { background: #f6f6f6; padding: 1em; white-space: pre-wrap; }
"""
FAITHFULNESS = ("deletion_auc", "insertion_auc", "road_combined")  # the headline's metrics


def _image(path: Path) -> str:
    if not path.exists():
        return f'<p class="note">({html.escape(path.name)} not written yet)</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    return '<div class="wide">' + frame.to_html(
        index=False, float_format=lambda v: f"{v:.{digits}g}", border=0, na_rep="") + "</div>"


def results_table(run_dir: str | Path) -> pd.DataFrame:
    """Methods x metrics: the mean of every metric over the run's CNNs (each CNN's mean over
    its test images), columns in the order of :func:`xai_gan.metrics.available`."""
    files = [f / "summary.csv" for f in RunLayout(run_dir).evaluations()
             if (f / "summary.csv").exists()]
    if not files:
        return pd.DataFrame()
    summary = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    table = summary.pivot_table(index="method", columns="metric", values="mean", sort=False)
    table = table[[m for m in available() if m in table.columns]].reset_index()
    table.columns.name = None
    return table


def _best(table: pd.DataFrame, metric: str) -> float:
    values = table.loc[~table["method"].map(explainers.is_reference), metric]
    return values.max() if METRICS[metric].better == "higher" else values.min()


def _arrow(metric: str) -> str:
    return "↑" if METRICS[metric].better == "higher" else "↓"


def markdown(table: pd.DataFrame) -> str:
    """:func:`results_table` as Markdown, the best value of each metric in bold."""
    metrics = [c for c in table.columns if c != "method"]
    lines = ["| method | " + " | ".join(f"{m} {_arrow(m)}" for m in metrics) + " |",
             "|---" * (len(metrics) + 1) + "|"]
    best = {m: _best(table, m) for m in metrics}
    for _, row in table.iterrows():
        cells = [f"**{row[m]:.3g}**" if row[m] == best[m] else f"{row[m]:.3g}" for m in metrics]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def is_gan(method: str) -> bool:
    """The run's trained GAN (``gan``) or another of its GANs (``gan:<tag>``)."""
    return method == "gan" or method.startswith("gan:")


def lead_gan(methods) -> str | None:
    """The GAN a run leads with: ``gan`` (the run's own) if present, else its first other GAN;
    the rest are the baselines it must beat."""
    gans = [m for m in methods if is_gan(m)]
    return "gan" if "gan" in gans else next(iter(gans), None)


def _cell(value: float, best: bool) -> str:
    text = "" if pd.isna(value) else f"{value:.3g}"
    return f"<td><b>{text}</b></td>" if best else f"<td>{text}</td>"


def category_tables(table: pd.DataFrame) -> list[str]:
    """:func:`results_table` split by metric category (tables that fit the page): a
    direction arrow on every metric, the best in bold, the run's GAN highlighted (its other
    GANs, the baselines it must beat, lightly; the reference maps greyed, never bold)."""
    lead = lead_gan(table["method"])
    parts = []
    for category in CATEGORIES:
        metrics = [m for m in table.columns if m in METRICS and METRICS[m].category == category]
        if not metrics:
            continue
        head = "".join(f"<th>{html.escape(m)} {_arrow(m)}</th>" for m in metrics)
        rows = []
        for _, row in table.iterrows():
            cells = "".join(_cell(row[m], row[m] == _best(table, m)) for m in metrics)
            highlight = (' class="gan"' if row["method"] == lead else
                         ' class="rival"' if is_gan(row["method"]) else
                         ' class="reference"' if explainers.is_reference(row["method"]) else "")
            rows.append(f"<tr{highlight}><td>{html.escape(row['method'])}</td>{cells}</tr>")
        parts.append(f"<h3>{category}</h3><div class='wide'><table><tr><th>method</th>{head}"
                     f"</tr>{''.join(rows)}</table></div>")
    return parts


def _summaries(run_dir: Path) -> pd.DataFrame:
    files = [f / "summary.csv" for f in RunLayout(run_dir).evaluations()
             if (f / "summary.csv").exists()]
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True) if files else None


def _faithfulness_sentence(per: pd.DataFrame, gan: str) -> str | None:
    """The GAN's rank on each headline metric per CNN, and on how many CNNs it is the best or
    lies inside the best method's 95 % t interval over test images."""
    clauses = []
    for metric in FAITHFULNESS:
        ranks, tied = [], 0
        for model, group in per[per.metric == metric].groupby("model", sort=False):
            own = group[group.method == gan]
            if own.empty or own["rank"].isna().all():  # not evaluated on this CNN
                continue
            own, best = own.iloc[0], group.sort_values("rank").iloc[0]
            # one image has no interval: then only a tie with the best counts
            half = half_width(best["std"], best["n"]) if best["n"] > 1 else 0.0
            tied += abs(own["mean"] - best["mean"]) <= half
            ranks.append(f"{int(own['rank'])}/{len(group)} on {model}")
        if ranks:
            clauses.append(f"{metric} {_arrow(metric)}: rank {', '.join(ranks)}; the best or "
                           f"inside the best's 95 % interval on {tied} of {len(ranks)} CNNs")
    return f"Faithfulness of {gan}: " + "; ".join(clauses) + "." if clauses else None


def headline(run_dir: str | Path, summary: dict | None = None,
             teacher: str = "gradcam") -> list[str]:
    """What the run shows, in plain sentences computed from its results: the CNNs explained,
    the GAN's faithfulness ranks, the GAN against its own input (``copy``) and the
    evaluation's ``teacher``, its cost against Grad-CAM's, and how much the sample size allows
    one to conclude."""
    run_dir = Path(run_dir)
    summary = summary or {}
    per = _summaries(run_dir)
    sentences = []
    models = summary.get("classifiers") or []
    if models:
        accuracies = ", ".join(f"{m['model']} {m['test_accuracy']:.1%}" for m in models)
        sentences.append(f"CNNs explained (test accuracy): {accuracies}.")
        weak = [m["model"] for m in models if m["test_accuracy"] < 0.9]
        if weak:
            sentences.append(f"Below 90 %: {', '.join(weak)}; their maps explain a CNN that is "
                             "often wrong, so read them as such.")
    if per is None:
        return sentences + ["No evaluation has finished yet."]
    means = per.pivot_table(index="method", columns="metric", values="mean")
    gans = [m for m in means.index if is_gan(m)]
    shared = [m for m in FAITHFULNESS if m in means.columns]

    def differences(gan: str, other: str) -> str:
        return ", ".join(f"{m} {_arrow(m)} {means.at[gan, m] - means.at[other, m]:+.3f}"
                         for m in shared)

    gan = lead_gan(gans)  # its other GANs (gan:<name>, the baselines it must beat) follow it
    if gan is not None:
        sentence = _faithfulness_sentence(per, gan)
        if sentence:
            sentences.append(sentence)
        if "copy" in means.index and shared:
            sentences.append(f"Against its own input (copy, condition map 0: the deepest "
                             f"layer's Grad-CAM), {gan} differs by {differences(gan, 'copy')} "
                             f"(mean over CNNs).")
        rivals = [m for m in gans if m != gan]
        if rivals and shared:
            sentences.append(f"Against the run's other generators, {gan} differs by: "
                             + "; ".join(f"{other}: {differences(gan, other)}"
                                         for other in rivals)
                             + f" (mean over CNNs: {gan} is better where ↑ is positive and "
                             "↓ negative).")
        if "pearson" in means.columns:
            sentences.append(f"Pearson correlation of {gan} with {teacher} (the evaluation's "
                             f"teacher): {means.at[gan, 'pearson']:.3f}.")
        if {"ms_per_image"} <= set(means.columns) and "gradcam" in means.index:
            ms, ref = means.at[gan, "ms_per_image"], means.at["gradcam", "ms_per_image"]
            sentences.append(f"Cost: {ms:.2f} ms per image, {ms / ref:.1f}x Grad-CAM's "
                             f"{ref:.2f} ms.")
    else:
        sentences.append("No GAN was evaluated in this run.")
    n = int(per["n"].max())
    sentences.append(f"{n} test images per CNN: differences inside the 95 % intervals (the bar "
                     "charts per CNN below) are ties, not rankings.")
    return sentences


def collapses(run_dir: str | Path) -> list[str]:
    """A sentence for each generator of the run that collapsed in training (it has no
    scores: a constant map is not an explanation)."""
    return [f"Generator {folder.name} collapsed and is not scored: {message}"
            for folder in RunLayout(run_dir).gans()
            if (message := gan.collapse.recorded(folder)) is not None]


def _quality_cost(run_dir: Path) -> str:
    """The quality-against-cost figure (written as ``quality_cost.png``), or a note."""
    from .plotting import quality_cost

    table = results_table(run_dir)
    quality = next((m for m in ("road_combined", "insertion_auc") if m in table.columns), None)
    if quality is None or "ms_per_image" not in table.columns:
        return '<p class="note">(no faithfulness and cost metrics to plot)</p>'
    means = table.set_index("method")[[quality, "ms_per_image"]].dropna()
    fig = quality_cost(means, quality, highlight=[m for m in means.index if is_gan(m)])
    path = RunLayout(run_dir).quality_cost
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return _image(path)


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def photo_sentence(summary: pd.DataFrame) -> str:
    """The real-photos study in one sentence, from its ``summary.csv``."""
    means = summary.set_index(["method", "metric"])["mean"]
    n = int(summary["n"].max())

    def scores(method):
        return (f"pointing game {means[method, 'pointing_game']:.2f}, energy-based "
                f"{means[method, 'energy_pointing_game']:.2f}")
    return (f"On {n} real photos, explaining an ImageNet EfficientNet-Lite0 it never saw, the "
            f"GAN scores {scores('gan')} against the photos' boxes (Grad-CAM "
            f"{scores('gradcam')}; a centred Gaussian {scores('centre')}), Pearson "
            f"{means['gan', 'pearson']:.2f} to Grad-CAM's maps.")


def _section_photos(run_dir: Path) -> list[str]:
    """The real-photos study, when the run has it: the report's opening figure."""
    out = RunLayout(run_dir).study("real-photos")
    if not (out / "summary.csv").exists():
        return []
    summary = pd.read_csv(out / "summary.csv")
    wide = summary.assign(text=[f"{m:.2f} ± {h:.2f}" for m, h in
                                zip(summary["mean"], summary["half_width"])]).pivot(
        index="method", columns="metric", values="text").reset_index()
    return ["<h2>Real photos, a CNN the GAN never saw</h2>",
            f"<p>{html.escape(photo_sentence(summary))} Boxes outlined in white; each map "
            "explains the photo's labelled class. Means over the photos with 95 % "
            "intervals below.</p>", _image(out / "photos.png"), _table(wide)]


def _section_studies(run_dir: Path, studies: dict) -> list[str]:
    """The studies the run ran (``{name: "done" or why it was skipped}``; empty: all)."""
    skipped = {name: value for name, value in studies.items() if value != "done"}
    parts = ["<h2>Studies</h2>"]
    out = RunLayout(run_dir).study("condition-relevance")
    parts.append(f"<h3>{STUDIES['condition-relevance'].title}</h3><p>Each of the k condition "
                 "maps is replaced by zeros in turn; the bars are the mean absolute change of the "
                 "GAN's map (condition 0 is the deepest layer alone, the last condition the mean "
                 "of every layer).</p>")
    verdict = _read_json(out / "verdict.json")
    if verdict:
        parts.append(f"<p><b>{html.escape(verdict['verdict'])}</b></p>")
    parts.append(_image(out / "bars.png"))
    if (out / "summary.csv").exists():
        parts.append(_table(pd.read_csv(out / "summary.csv").query("model == 'all'")))
    for name, text in [
            ("cross-architecture", "For each CNN, a GAN trained without it; rows are GANs, "
             "columns the CNN whose test store it explains (Pearson to the teacher's map)."),
            ("cross-dataset", "A GAN trained on each dataset (same CNN architecture), tested "
             "on both.")]:
        out = RunLayout(run_dir).study(name)
        if studies and name not in studies:
            continue
        parts.append(f"<h3>{STUDIES[name].title}</h3>")
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
    layout = config.layout
    summary = _read_json(layout.summary) or {}
    timings = _read_json(layout.timings) or {}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>xai-gan report: "
             f"{html.escape(str(run_dir))}</title><style>{STYLE}</style></head><body>",
             f"<h1>xai-gan report</h1><p class='note'>run folder {html.escape(str(run_dir))}, "
             f"profile {html.escape(str(summary.get('profile')))}</p>",
             *_section_photos(run_dir),
             "<h2>What this run shows</h2><ul class='lead'>",
             *[f"<li>{html.escape(s, quote=False)}</li>"
               for s in collapses(run_dir) + headline(run_dir, summary, config.teacher)],
             "</ul>",
             "<p>Quality against cost: each explainer's mean over the CNNs, the GAN in red; "
             "the grey steps join the methods that no other method beats on both.</p>",
             _quality_cost(run_dir)]
    table = results_table(run_dir)
    if len(table):
        parts += ["<h2>Every explainer x every metric</h2><p>Means over the test images, "
                  "then over the CNNs, one table per kind of metric; ↑ higher is better, "
                  "↓ lower; the best of each column in bold, the GAN highlighted. Per-CNN "
                  "charts and examples follow.</p>", *category_tables(table)]
    for folder in layout.evaluations():
        parts.append(f"<h3>{html.escape(folder.name)}</h3>")
        parts += [_image(folder / name) for name in
                  ("examples.png", "rank_table.png", "metric_bars.png")]
    if summary.get("classifiers"):
        parts += ["<h2>Classifiers</h2>", _table(pd.DataFrame(summary["classifiers"]), 4)]
    if summary.get("gan"):
        history = pd.DataFrame(summary["gan"])
        parts += ["<h2>GAN training</h2>", f"<p>{html.escape(str(config.gan_dir))}</p>",
                  _table(history, 4)]
    if timings:
        frame = pd.DataFrame([{"stage": stage, "seconds (this run)": t.get("last_seconds"),
                               "seconds (all runs)": t["total_seconds"], "runs": t["runs"]}
                              for stage, t in timings.items()])
        parts += ["<h2>Timings</h2>", _table(frame, 4)]
    parts += _section_studies(run_dir, summary.get("studies") or {})
    parts += ["<h2>Configuration</h2>",
              f"<pre>{html.escape(json.dumps(summary.get('config', {}), indent=2))}</pre>",
              "</body></html>"]
    path = layout.report
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    if len(table):
        with atomic_path(layout.results) as tmp:
            tmp.write_text(markdown(table), encoding="utf-8")
    return path
