import matplotlib
import pytest
import torch

import xai_gan as xg

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def explorer():
    ds = xg.data.load("shapes", "test", 32, n=3, seed=0)
    return xg.widgets.layer_explorer(xg.classifiers.build("resnet", 6, seed=0), ds)


def heat_of(ax) -> torch.Tensor:
    """The heat map drawn over the image in ``ax`` (its second image)."""
    return torch.as_tensor(ax.images[1].get_array())


def test_layer_view_draws_the_layer_and_its_cumulative_map_over_the_image(explorer):
    maps = explorer.layer_maps(1)
    n_layers = maps.shape[0]
    fig = explorer.render(image=1, layer=n_layers - 4)
    image_ax, layer_ax, cumulative_ax, bar_ax = fig.axes
    assert bar_ax.get_ylabel() == "relevance (each map scaled to [0, 1])"  # one shared colour bar
    torch.testing.assert_close(heat_of(layer_ax), maps[n_layers - 4])
    torch.testing.assert_close(heat_of(cumulative_ax), maps[-4:].mean(0))
    # numbered from 0 everywhere: the mean of the 4 deepest of 17 layers is condition 1
    assert n_layers == 17 and xg.representation.cumulative_positions(n_layers, 8)[1] == 3
    assert cumulative_ax.get_title() == (f"mean of layers {n_layers - 4}-{n_layers - 1}: "
                                         "condition 1")
    assert layer_ax.get_title() == f"layer {n_layers - 4}: {explorer.layer_names[-4]}"
    assert all(len(ax.collections) > 0 for ax in fig.axes[:3])  # the mask's outline on every panel
    deepest = explorer.render(image=0, layer=n_layers - 1).axes[2]
    assert deepest.get_title() == f"mean of layers {n_layers - 1}-{n_layers - 1}: condition 0"
    assert explorer.layer_names[-1] == "features"  # the block the head pools
    matplotlib.pyplot.close("all")


def test_layer_view_refuses_a_layer_out_of_range(explorer):
    maps = explorer.layer_maps(0)
    with pytest.raises(ValueError, match="layer must be in"):
        xg.widgets.layer_view(explorer.items[0]["image"], maps, maps.shape[0])


def test_sliders_drive_the_view(explorer, monkeypatch):
    seen = []
    monkeypatch.setattr(explorer, "render", lambda image, layer: seen.append((image, layer)))
    explorer.layer.value = 2
    explorer.image.value = 1
    assert seen == [(0, 2), (1, 2)]
    assert explorer.layer.max == len(explorer.layer_names) - 1 and explorer.image.max == 2


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
    masks = torch.stack([ds[i]["mask"] for i in range(3)])
    labels = [ds[i]["label"] for i in range(3)]
    methods = {"corner": Counting(), "gradcam": xg.explainers.get("gradcam")}
    return xg.widgets.explanation_explorer(xg.classifiers.build("vgg", 6, seed=0), images,
                                           methods, class_names=ds.classes, masks=masks,
                                           labels=labels)


def test_explanation_view_shows_the_method_beside_the_layer(methods_explorer):
    explorer = methods_explorer
    fig = explorer.render(image=2, method="corner", layer=0)
    image_ax, method_ax, layer_ax, cumulative_ax, bar_ax = fig.axes
    assert bar_ax.get_ylabel().startswith("relevance")
    probabilities = explorer.probabilities(2)
    predicted = int(probabilities.argmax())
    name, label = explorer.class_names[predicted], explorer.class_names[explorer.items[2]["label"]]
    assert image_ax.get_title() == (f"image 2: true {label}, predicted {name} "
                                    f"({probabilities[predicted]:.2f})\nexplaining {name} "
                                    f"({probabilities[predicted]:.2f})")
    assert method_ax.get_title() == "corner"
    heat = heat_of(method_ax)
    assert heat[:4, :4].eq(1).all() and heat.sum() == 16
    torch.testing.assert_close(heat_of(layer_ax), explorer.layer_maps(2)[0])
    n_layers = len(explorer.layer_names)
    assert cumulative_ax.get_title() == f"mean of layers 0-{n_layers - 1}: condition 7"
    matplotlib.pyplot.close("all")


def test_any_class_with_its_probability(methods_explorer):
    explorer = methods_explorer
    choices = explorer.class_choices(1)
    probabilities = explorer.probabilities(1)
    assert [c for _, c in choices] == probabilities.argsort(descending=True).tolist()
    assert choices[0][0] == (f"{explorer.class_names[choices[0][1]]} "
                             f"({probabilities[choices[0][1]]:.2f})")
    other = choices[-1][1]  # the least likely class
    explorer.image.value = 1
    explorer.target_class.value = other
    assert explorer.target(1) == other and other != int(probabilities.argmax())
    gradcam = xg.explainers.get("gradcam")
    image = explorer.items[1]["image"][None]
    torch.testing.assert_close(explorer.maps("gradcam", 1), gradcam(explorer.model, image,
                                                                    [other])[0])
    assert f"explaining {explorer.class_names[other]}" in explorer.current().axes[0].get_title()
    torch.testing.assert_close(explorer.layer_maps(1), xg.representation.layer_gradcams(
        explorer.model, image, [other], explorer.layers)[0])
    explorer.targets.pop(1)
    matplotlib.pyplot.close("all")


def test_the_layer_drives_the_layer_dependent_methods(methods_explorer):
    explorer = methods_explorer
    image = explorer.items[0]["image"][None]
    target = explorer.target(0)
    name, module = explorer.layers[3]
    at_layer = xg.explainers.get("gradcam", target_layer=name)(explorer.model, image, [target])
    torch.testing.assert_close(explorer.maps("gradcam", 0, layer=3), at_layer[0])
    deepest = len(explorer.layers) - 1
    torch.testing.assert_close(explorer.maps("gradcam", 0, layer=deepest),
                               explorer.maps("gradcam", 0))  # the default: the pooled block
    # a method without a target layer draws the same map at every layer, computed once
    calls = explorer.explainers["corner"].calls
    explorer.maps("corner", 0, layer=1), explorer.maps("corner", 0, layer=2)
    assert explorer.explainers["corner"].calls - calls <= 1


def test_an_uploaded_image_is_resized_and_explained(methods_explorer, tmp_path):
    from PIL import Image

    explorer = methods_explorer
    path = tmp_path / "photo.png"
    Image.new("RGB", (90, 60), (200, 30, 30)).save(path)
    before = len(explorer.items)
    index = explorer.add_image(path.read_bytes())
    assert index == before and explorer.image.max == before
    assert explorer.items[index]["image"].shape == (3, 32, 32)
    fig = explorer.render(index, "gradcam", len(explorer.layers) - 1)
    assert fig.axes[0].get_title().startswith(f"image {index}: predicted ")  # no true label
    with pytest.raises(ValueError, match="the explorer's images are 3 x 32 x 32"):
        explorer.add_image(torch.rand(1, 32, 32))
    matplotlib.pyplot.close("all")


def test_each_view_is_explained_once_and_the_controls_drive_the_view(methods_explorer,
                                                                     monkeypatch):
    explorer = methods_explorer
    corner = explorer.explainers["corner"]
    calls = corner.calls
    explorer.maps("corner", 2)
    explorer.maps("corner", 2)
    assert corner.calls - calls <= 1  # cached per image and class
    explorer.image.value, explorer.method.value = 0, "corner"
    last = len(explorer.layers) - 1
    explorer.layer.value = last
    seen = []
    monkeypatch.setattr(explorer, "render", lambda *args: seen.append(args))
    explorer.method.value = "gradcam"
    explorer.layer.value = 1
    explorer.image.value = 2
    assert seen == [(0, "gradcam", last), (0, "gradcam", 1), (2, "gradcam", 1)]
    with pytest.raises(ValueError, match="unknown method 'lrp'"):
        explorer.maps("lrp", 0)
    with pytest.raises(ValueError, match="at least one explainer"):
        xg.widgets.explanation_explorer(explorer.model, explorer.items.source, {})
