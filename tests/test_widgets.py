import matplotlib
import pytest
import torch

import xai_gan as xg

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def explorer():
    ds = xg.data.load("shapes", "test", 32, n=3, seed=0)
    images = torch.stack([ds[i]["image"] for i in range(3)])
    return xg.widgets.layer_explorer(xg.classifiers.build("resnet", 6, seed=0), images)


def test_layer_view_draws_the_layer_and_its_cumulative_map(explorer):
    n_layers = explorer.maps.shape[1]
    fig = explorer.render(image=1, layer=n_layers - 4)
    image_ax, layer_ax, cumulative_ax = fig.axes
    torch.testing.assert_close(torch.as_tensor(layer_ax.images[0].get_array()),
                               explorer.maps[1, n_layers - 4])
    torch.testing.assert_close(torch.as_tensor(cumulative_ax.images[0].get_array()),
                               explorer.maps[1, -4:].mean(0))
    assert cumulative_ax.get_title() == "mean of 4 deepest: condition 2 of 8"
    assert explorer.layer_names[n_layers - 4] in layer_ax.get_title()
    deepest = explorer.render(image=0, layer=n_layers - 1).axes[2]
    assert deepest.get_title() == "mean of 1 deepest: condition 1 of 8"
    matplotlib.pyplot.close("all")


def test_layer_view_refuses_a_layer_out_of_range(explorer):
    with pytest.raises(ValueError, match="layer must be in"):
        xg.widgets.layer_view(explorer.images[0], explorer.maps[0], explorer.maps.shape[1])


def test_sliders_drive_the_view(explorer, monkeypatch):
    seen = []
    monkeypatch.setattr(explorer, "render", lambda image, layer: seen.append((image, layer)))
    explorer.layer.value = 2
    explorer.image.value = 1
    assert seen == [(0, 2), (1, 2)]
    assert explorer.layer.max == explorer.maps.shape[1] - 1 and explorer.image.max == 2
