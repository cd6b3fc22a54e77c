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
    n_layers = explorer.layer_maps.shape[1]
    fig = explorer.render(image=1, layer=n_layers - 4)
    image_ax, layer_ax, cumulative_ax = fig.axes
    torch.testing.assert_close(torch.as_tensor(layer_ax.images[0].get_array()),
                               explorer.layer_maps[1, n_layers - 4])
    torch.testing.assert_close(torch.as_tensor(cumulative_ax.images[0].get_array()),
                               explorer.layer_maps[1, -4:].mean(0))
    assert cumulative_ax.get_title() == "mean of 4 deepest: condition 2 of 8"
    assert explorer.layer_names[n_layers - 4] in layer_ax.get_title()
    deepest = explorer.render(image=0, layer=n_layers - 1).axes[2]
    assert deepest.get_title() == "mean of 1 deepest: condition 1 of 8"
    matplotlib.pyplot.close("all")


def test_layer_view_refuses_a_layer_out_of_range(explorer):
    with pytest.raises(ValueError, match="layer must be in"):
        xg.widgets.layer_view(explorer.images[0], explorer.layer_maps[0],
                              explorer.layer_maps.shape[1])


def test_sliders_drive_the_view(explorer, monkeypatch):
    seen = []
    monkeypatch.setattr(explorer, "render", lambda image, layer: seen.append((image, layer)))
    explorer.layer.value = 2
    explorer.image.value = 1
    assert seen == [(0, 2), (1, 2)]
    assert explorer.layer.max == explorer.layer_maps.shape[1] - 1 and explorer.image.max == 2


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A real IPython shell (its files under tmp_path), to display objects as a notebook does."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    yield InteractiveShell.instance(config=config)
    InteractiveShell.clear_instance()


def test_displaying_the_explorer_shows_its_widget(explorer, shell):
    """ipywidgets 8 displays through _repr_mimebundle_, 7.7 (what Colab ships) through
    _ipython_display_: with either, a notebook gets the explorer's widget view."""
    from IPython.display import display
    from IPython.utils.capture import capture_output

    import ipywidgets

    assert xg.widgets.WIDGETS_8 == (int(ipywidgets.__version__.split(".")[0]) >= 8)
    with capture_output() as captured:
        display(explorer)
    views = [output.data["application/vnd.jupyter.widget-view+json"]
             for output in captured.outputs
             if "application/vnd.jupyter.widget-view+json" in output.data]
    assert [view["model_id"] for view in views] == [explorer.widget.model_id]


class Counting:
    """An explainer that records its calls: a map lit in one corner."""

    def __init__(self):
        self.calls = 0

    def __call__(self, model, images, targets):
        self.calls += 1
        heat = torch.zeros(len(images), images.shape[-2], images.shape[-1])
        heat[:, :4, :4] = 1
        return heat


@pytest.fixture(scope="module")
def methods_explorer():
    ds = xg.data.load("shapes", "test", 32, n=3, seed=0)
    images = torch.stack([ds[i]["image"] for i in range(3)])
    methods = {"corner": Counting(), "gradcam": xg.explainers.get("gradcam")}
    return xg.widgets.explanation_explorer(xg.classifiers.build("vgg", 6, seed=0), images,
                                           methods, class_names=ds.classes)


def test_explanation_view_shows_the_method_beside_the_layer(methods_explorer):
    explorer = methods_explorer
    fig = explorer.render(image=2, method="corner", layer=0)
    image_ax, method_ax, layer_ax, cumulative_ax = fig.axes
    predicted = explorer.class_names[int(explorer.predicted[2])]
    assert image_ax.get_title() == f"image 2: predicted {predicted}"
    assert method_ax.get_title() == "corner"
    heat = torch.as_tensor(method_ax.images[1].get_array())
    assert heat[:4, :4].eq(1).all() and heat.sum() == 16
    torch.testing.assert_close(torch.as_tensor(layer_ax.images[0].get_array()),
                               explorer.layer_maps[2, 0])
    assert cumulative_ax.get_title().startswith(f"mean of {explorer.layer_maps.shape[1]} deepest")
    matplotlib.pyplot.close("all")


def test_each_method_explains_once_and_the_controls_drive_the_view(methods_explorer,
                                                                   monkeypatch):
    explorer = methods_explorer
    corner = explorer.explainers["corner"]
    explorer.maps("corner")
    explorer.maps("corner")
    assert corner.calls == 1  # cached for every image
    seen = []
    monkeypatch.setattr(explorer, "render", lambda *args: seen.append(args))
    explorer.method.value = "gradcam"
    explorer.layer.value = 1
    explorer.image.value = 1
    last = explorer.layer.max
    assert seen == [(0, "gradcam", last), (0, "gradcam", 1), (1, "gradcam", 1)]
    with pytest.raises(ValueError, match="unknown method 'lrp'"):
        explorer.maps("lrp")
    with pytest.raises(ValueError, match="at least one explainer"):
        xg.widgets.explanation_explorer(explorer.model, explorer.images, {})
