"""The HTML report as a reader meets it: what the run shows first, tables that fit the page,
best values marked, figures that load (rendered by headless Chromium where it is installed)."""
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import xai_gan as xg
from xai_gan.io import save_json

METHODS = xg.explainers.baselines() + ["gan", "gan:linear"]
COST = {"gradcam": 2.0, "gan": 3.0}  # ms per image: the GAN at 1.5x Grad-CAM


def fake_run(run_dir):
    """A run folder as the stages leave it: every baseline and the GAN on every metric for
    two CNNs (the GAN best on insertion), one CNN below 90 %, a wide GAN history."""
    rng = np.random.default_rng(0)
    for model in ("vgg", "mobilenet"):
        rows = []
        for method in METHODS:
            for name in xg.metrics.available():
                metric = xg.metrics.METRICS[name]
                values = rng.random(20) + (1.0 if (method, name) == ("gan", "insertion_auc")
                                           else 0.0)
                if name == "ms_per_image":
                    values = np.full(20, COST.get(method, 50.0))
                rows += [{"method": method, "metric": name, "category": metric.category,
                          "image": i, "value": v, "better": metric.better}
                         for i, v in enumerate(values)]
        out = run_dir / "evaluation" / model
        out.mkdir(parents=True)
        xg.metrics.summarise(pd.DataFrame(rows)).assign(model=model).to_csv(
            out / "summary.csv", index=False)
    history = [{"epoch": e, "seconds": e * 1.5, **{f"loss_{i}": 0.1 for i in range(12)}}
               for e in range(1, 4)]
    save_json({"profile": "ci", "config": {"teacher": "gradcam"}, "gan": history,
                     "classifiers": [{"model": "vgg", "test_accuracy": 0.99},
                                     {"model": "mobilenet", "test_accuracy": 0.68}]},
                    run_dir / "summary.json")
    return xg.report.write(xg.RunConfig(run_dir=run_dir, profile="ci"))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return fake_run(tmp_path_factory.mktemp("run"))


def test_the_report_opens_with_what_the_run_shows(report):
    page = report.read_text()
    assert page.index("What this run shows") < page.index("Every explainer x every metric")
    lead = re.search(r"<ul class='lead'>(.*?)</ul>", page, re.S).group(1)
    assert "vgg 99.0%, mobilenet 68.0%" in lead and "Below 90 %: mobilenet" in lead
    n = len(METHODS)
    assert (f"insertion_auc ↑: rank 1/{n} on mobilenet, 1/{n} on vgg; the best or inside the "
            "best's 95 % interval on 2 of 2 CNNs") in lead
    assert "differs by deletion_auc ↓ " in lead  # against copy, each metric with its direction
    assert "other generators, gan differs by: gan:linear: deletion_auc ↓ " in lead
    assert lead.count("Faithfulness of") == 1  # the run's GAN leads, not every generator
    assert "Cost: 3.00 ms per image, 1.5x Grad-CAM's 2.00 ms." in lead
    assert "20 test images per CNN" in lead
    assert (report.parent / "quality_cost.png").stat().st_size > 10_000


def test_tables_mark_directions_bests_and_the_gan(report):
    page = report.read_text()
    assert "<th>metric</th>" not in page  # the pivot's empty column name is gone
    tables = re.findall(r"<h3>(\w+)</h3><div class='wide'><table>(.*?)</table>", page, re.S)
    assert [name for name, _ in tables] == list(xg.metrics.CATEGORIES)
    for _, table in tables:
        header = re.search(r"<tr>(.*?)</tr>", table).group(1)
        assert all(cell.endswith(("↑", "↓")) for cell in re.findall(r"<th>(.*?)</th>",
                                                                  header)[1:])
        assert table.count('<tr class="gan">') == 1
    faithfulness = dict(tables)["faithfulness"]
    gan_row = re.search(r'<tr class="gan">(.*?)</tr>', faithfulness).group(1)
    assert gan_row.split("</td>")[2].startswith("<td><b>")  # insertion: the GAN is best
    cost = dict(tables)["cost"]
    assert "<td>copy</td><td>50</td>" in cost and "<td>gradcam</td><td><b>2</b></td>" in cost


CHECK = """<script>
window.addEventListener("load", () => {
  const page = document.body.clientWidth;
  const tables = [...document.querySelectorAll("table")];
  const images = [...document.querySelectorAll("img")];
  document.body.dataset.check = JSON.stringify({
    page, tables: tables.length, scroll: document.documentElement.scrollWidth,
    view: document.documentElement.clientWidth,
    wide: tables.filter(t => t.getBoundingClientRect().width > page + 1).length,
    images: images.length, broken: images.filter(i => !i.complete || !i.naturalWidth).length});
});
</script></body>"""


def chromium_runs() -> bool:
    """Chromium is installed and starts (some distributions ship a stub in its place)."""
    if shutil.which("chromium") is None:
        return False
    try:
        return subprocess.run(["chromium", "--version"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not chromium_runs(),
                    reason="Chromium is not installed (make install adds it where apt runs)")
def test_chromium_renders_tables_inside_the_page_and_every_figure(report, tmp_path):
    probe = tmp_path / "report.html"
    probe.write_text(report.read_text().replace("</body>", CHECK))
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--window-size=1280,900", "--virtual-time-budget=5000",
                          "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'data-check="(.*?)"', dom)
    assert found, "Chromium did not run the page's check"
    check = json.loads(found.group(1).replace("&quot;", '"'))
    assert check["tables"] >= 9 and check["wide"] == 0, check
    assert check["scroll"] <= check["view"], check  # no sideways scrolling of the page
    assert check["images"] >= 1 and check["broken"] == 0, check


def test_a_reference_map_is_never_marked_best():
    """Random noise is the most stable map under input noise: a reader must not see it bold."""
    table = pd.DataFrame({"method": ["gradcam", "random", "edge"],
                          "insertion_auc": [0.8, 0.9, 0.7], "max_sensitivity": [0.3, 0.0, 0.1]})
    text = xg.report.markdown(table)
    assert "**0.8**" in text and "**0.3**" in text and "**0.9**" not in text
    html = "".join(xg.report.category_tables(table))
    assert html.count('class="reference"') == 4 and "<b>0.9</b>" not in html


def test_rank_tables_hatch_reference_rows_and_cells_true_by_construction():
    rows = [dict(method=m, metric=metric, category=category, better="higher", mean=0.5,
                 std=0.1, n=4, rank=1)
            for m in ("gradcam", "gan", "random", "centre")
            for metric, category in (("insertion_auc", "faithfulness"), ("ssim", "similarity"),
                                     ("pearson", "similarity"))]
    summary = pd.DataFrame(rows)
    references, trivial = xg.metrics.not_rankings(summary, teacher="gradcam")
    assert references == ["random", "centre"]
    assert trivial == [("gradcam", "ssim"), ("gradcam", "pearson")]
    assert xg.metrics.not_rankings(summary, teacher="sise")[1] == []  # not among the rows
    ax = xg.plotting.rank_table(summary, references, trivial).axes[0]  # as the pipeline calls it
    hatched = [p for p in ax.patches if p.get_hatch() == "///"]
    assert len(hatched) == 2 * 3 + 2
    assert "random (reference)" in [t.get_text() for t in ax.get_yticklabels()]
    plain = xg.plotting.rank_table(summary).axes[0]
    assert not [p for p in plain.patches if p.get_hatch()] and plain.get_title() == ""


def test_quality_cost_names_crowded_points_without_overlap():
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from xai_gan.plotting import quality_cost

    names = ["gradcam", "gradcam++", "layercam", "xgradcam", "copy", "gan", "gan:linear", "lrp"]
    means = pd.DataFrame({"ms_per_image": [2.0, 2.1, 2.05, 2.2, 2.0, 3.0, 2.1, 60.0],
                          "road_combined": [0.316, 0.317, 0.316, 0.315, 0.316, 0.32, 0.318, 0.2]},
                         index=names)
    fig = quality_cost(means, "road_combined", highlight=["gan"])
    fig.canvas.draw()
    ax = fig.axes[0]
    # the name's own box (an annotation's extent also spans its leader line)
    boxes = {t.get_text(): Text.get_window_extent(t) for t in ax.texts}
    assert sorted(boxes) == sorted(names)
    overlapping = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
                   if boxes[a].overlaps(boxes[b])]
    assert not overlapping
    labels = [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    assert labels and all(label[0] in "25" for label in labels), labels
    plt.close(fig)
