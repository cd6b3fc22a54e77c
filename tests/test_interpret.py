"""The studies of xai_gan.interpret on generators whose reliance on each condition is known."""
import math

import pandas as pd
import pytest
import torch
from torch import nn

import xai_gan as xg
from xai_gan import interpret


class Weighted(nn.Module):
    """A stand-in generator: a fixed weighted sum of the condition maps (image ignored)."""

    def __init__(self, weights):
        super().__init__()
        self.weights = nn.Parameter(torch.tensor(weights, dtype=torch.float32))

    def forward(self, images, conditions, classes=None):  # the generators' interface
        return (conditions * self.weights[None, :, None, None]).sum(1, keepdim=True)


class Store(torch.utils.data.Dataset):
    """Store-like items with smooth random condition maps; the teacher map is map ``teacher_of``."""

    def __init__(self, n=10, k=4, size=16, teacher_of=0, seed=0, layers=None):
        g = torch.Generator().manual_seed(seed)
        conditions = xg.maps.gaussian_blur(torch.rand(n, k, size, size, generator=g), 1.5)
        self.conditions = xg.maps.minmax(conditions)
        self.images = torch.rand(n, 3, size, size, generator=g)
        self.teacher_of = teacher_of
        self.metadata = {"layers": layers} if layers else {}

    def __len__(self):
        return len(self.conditions)

    def __getitem__(self, i):
        return {"image": self.images[i], "conditions": self.conditions[i],
                "teacher_map": self.conditions[i, self.teacher_of]}


def test_a_generator_that_reads_one_condition_depends_on_that_one_only():
    store = Store(k=4)
    table = interpret.condition_relevance(Weighted([1, 0, 0, 0]), store, progress=False)
    assert len(table) == 10 * 4 and list(table.condition.unique()) == [0, 1, 2, 3]
    deepest = table[table.condition == 0]
    # removing condition 0 (zeros) removes the whole map: the change is the map's own mean
    expected = store.conditions[:, 0].flatten(1).mean(1)
    torch.testing.assert_close(torch.tensor(deepest.change.values, dtype=torch.float32),
                               expected)
    assert (deepest.share == 1).all()
    assert (table[table.condition > 0].change == 0).all()
    verdict = interpret.shallow_vs_deep(table)
    assert not verdict["holds"] and math.isinf(verdict["ratio"])
    assert "does not hold" in verdict["verdict"]


def test_equal_reliance_gives_equal_shares_and_the_paper_finding_holds():
    table = interpret.condition_relevance(Weighted([0.25] * 4), Store(k=4), progress=False)
    summary = interpret.relevance_summary(table)
    assert summary.share.tolist() == pytest.approx([0.25] * 4, abs=0.05)
    verdict = interpret.shallow_vs_deep(table)
    assert verdict["holds"] and 0.5 <= verdict["ratio"] <= 2


def test_mean_fill_keeps_the_average_evidence():
    store = Store(k=3, n=6)
    table = interpret.condition_relevance(Weighted([1, 0, 0]), store, fill="mean",
                                          batch_size=4, progress=False)
    mean = store.conditions[:, 0].mean(0)
    expected = (store.conditions[:, 0] - mean).abs().flatten(1).mean(1)
    got = torch.tensor(table[table.condition == 0].change.values, dtype=torch.float32)
    torch.testing.assert_close(got, expected)  # across batches of 4 and 2
    with pytest.raises(ValueError, match="fill must be one of"):
        interpret.condition_relevance(Weighted([1, 0, 0]), store, fill="noise")


def test_condition_labels_say_how_deep_each_map_reaches():
    store = Store(k=3, layers=[f"conv{i}" for i in range(5)])
    labels = interpret.condition_labels(store, 3)
    assert labels == ["condition 0: deepest 1 of 5 layers", "condition 1: deepest 3 of 5 layers",
                      "condition 2: deepest 5 of 5 layers"]
    table = interpret.condition_relevance(Weighted([1, 0, 0]), store, n=2, progress=False)
    assert table.label.tolist()[:3] == labels and table.image.max() == 1
    deeper = interpret.condition_relevance(Weighted([1, 0, 0]), Store(
        k=3, layers=[f"conv{i}" for i in range(9)]), n=2, progress=False)
    pooled = interpret.relevance_summary(pd.concat([table, deeper]))  # CNNs of two depths
    assert pooled.label.tolist() == ["condition 0", "condition 1", "condition 2"]
    assert pooled.change.iloc[0] == pytest.approx(pd.concat([table, deeper]).query(
        "condition == 0").change.mean())


def test_transfer_scores_every_generator_on_every_store_and_the_gap():
    stores = {"a": Store(teacher_of=0, seed=1), "b": Store(teacher_of=1, seed=2)}
    generators = {"reads 0": Weighted([1, 0, 0, 0]), "reads 1": Weighted([0, 1, 0, 0])}
    table = interpret.transfer(generators, stores)
    assert len(table) == 4 and (table.n == 10).all()
    own = table[((table.gan == "reads 0") & (table.tested_on == "a"))
                | ((table.gan == "reads 1") & (table.tested_on == "b"))]
    assert own.pearson.tolist() == pytest.approx([1, 1]) and own.mae.max() < 1e-6
    other = table.drop(own.index)
    assert (other.pearson < 0.9).all()
    gap = interpret.generalisation_gap(table, {"reads 0": ["a"], "reads 1": ["b"]})
    row = gap.set_index("gan").loc["reads 0"]
    expected = 1 - table[(table.gan == "reads 0") & (table.tested_on == "b")].pearson.item()
    assert row.pearson_gap == pytest.approx(expected)
    assert row.seen_pearson == pytest.approx(1)


def test_study_figures_have_a_panel_per_image_and_a_cell_per_pair():
    table = interpret.condition_relevance(Weighted([0.5, 0.5, 0]), Store(k=3), progress=False)
    fig = xg.plotting.condition_bars(table, images=3)
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "mean over 10 images"
    pooled = pd.concat([table.assign(model="a"), table.assign(model="b", change=table.change * 2)])
    fig = xg.plotting.condition_bars(pooled, images=2)
    assert fig.axes[0].get_title() == "mean over 20 images"
    assert fig.axes[1].get_title() == "a, image 0"
    heights = [bar.get_height() for bar in fig.axes[1].patches]
    assert heights == pytest.approx(table[table.image == 0].change.tolist())  # CNN a only
    transfer = pd.DataFrame({"gan": ["x", "x", "y", "y"], "tested_on": ["a", "b", "a", "b"],
                             "pearson": [0.9, 0.5, 0.4, 0.8]})
    fig = xg.plotting.transfer_heatmap(transfer)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0.900", "0.500", "0.400", "0.800"]
    xg.plotting.plt.close("all")
