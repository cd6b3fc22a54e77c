"""Metrics: invariants on hand-made maps, and agreement with Quantus, pytorch-grad-cam,
scikit-image and scipy on identical inputs (the reference implementations of the field)."""
import math
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import default_collate

import xai_gan as xg
from xai_gan.metrics import (complexity, faithfulness, localisation, randomisation, road,
                             robustness)

quantus = pytest.importorskip("quantus")
warnings.filterwarnings("ignore", module="quantus")


@pytest.fixture(scope="module")
def batch(shapes_cnn):
    """16 shapes test images, their predicted classes and Grad-CAM maps with unique values
    (ties would make pixel orders implementation-defined)."""
    model, items = shapes_cnn
    b = default_collate(items[:16])
    images = b["image"]
    with torch.no_grad():
        classes = model(images).argmax(1)
    maps = xg.explainers.get("gradcam")(model, images, classes)
    maps = maps + 1e-3 * torch.rand(maps.shape, generator=torch.Generator().manual_seed(0))
    return model, images, classes, maps / maps.amax((1, 2), keepdim=True), b["mask"]


def sobel_edges(model, images, targets=None):
    """An 'explainer' that ignores the model: the image's edge magnitude."""
    grey = images.mean(1, keepdim=True)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    gx = torch.nn.functional.conv2d(grey, kx, padding=1)
    gy = torch.nn.functional.conv2d(grey, kx.transpose(2, 3), padding=1)
    edges = (gx ** 2 + gy ** 2).sqrt()[:, 0]
    return edges / edges.amax((1, 2), keepdim=True)


# ---------------------------------------------------------------- faithfulness

def test_deletion_curve_matches_quantus_pixel_flipping(batch):
    model, images, classes, maps, _ = batch
    ours = faithfulness.perturbation_curve(model, images, maps, classes, "deletion", steps=16,
                                           baseline="zero")
    # Quantus flips features of the (C, H, W) input, the map broadcast over the 3 channels:
    # 256 features a step is 256 / 3 pixels, so every third step of Quantus' 48 removes whole
    # pixels: its step 3i - 1 is our step i (i = 1..16). Our column 0 is the intact image.
    metric = quantus.PixelFlipping(features_in_step=256, perturb_baseline=0.0, normalise=False,
                                   abs=False, disable_warnings=True)
    theirs = np.array(metric(model=model, x_batch=images.numpy(), y_batch=classes.numpy(),
                             a_batch=maps[:, None].double().numpy(), device="cpu"))
    assert theirs.shape == (16, 48)
    np.testing.assert_allclose(ours[:, 1:].numpy(), theirs[:, 2::3], atol=2e-5)
    intact = faithfulness.class_probability(model, images, classes)
    np.testing.assert_allclose(ours[:, 0].numpy(), intact.numpy(), atol=1e-6)


def test_the_metrics_forward_batch_follows_the_image_size_and_leaves_scores_unchanged():
    size = {side: xg.devices.forward_batch(torch.zeros(1, 3, side, side)) for side in
            (32, 64, 128, 224)}
    assert size == {32: 256, 64: 64, 128: 16, 224: 8}
    assert xg.devices.forward_batch(torch.zeros(1, 3, 64, 64), batch_size=5) == 5
    assert xg.devices.forward_batch(torch.zeros(1, 3, 32, 32), cap=64) == 64
    torch.manual_seed(0)
    model = xg.classifiers.build("resnet", 6, seed=0).eval()
    images, maps = torch.rand(3, 3, 64, 64), torch.rand(3, 64, 64)
    targets = torch.tensor([0, 2, 5])
    curves = [faithfulness.perturbation_curve(model, images, maps, targets, batch_size=b)
              for b in (None, 256, 7)]
    for other in curves[1:]:
        torch.testing.assert_close(curves[0], other, atol=1e-5, rtol=0)
    road_scores = [road.road_curves(model, images, maps, targets, batch_size=b)
                   for b in (None, 5)]
    for first, second in zip(*road_scores):
        torch.testing.assert_close(first, second, atol=1e-5, rtol=0)


def test_insertion_and_deletion_end_points_and_order(batch):
    model, images, classes, maps, masks = batch
    for baseline in faithfulness.BASELINES:
        base = faithfulness.baseline_images(images, baseline)
        p_image = faithfulness.class_probability(model, images, classes)
        p_base = faithfulness.class_probability(model, base, classes)
        deletion = faithfulness.perturbation_curve(model, images, maps, classes, "deletion",
                                                   steps=8, baseline=baseline)
        insertion = faithfulness.perturbation_curve(model, images, maps, classes, "insertion",
                                                    steps=8, baseline=baseline)
        for curve, start, end in [(deletion, p_image, p_base), (insertion, p_base, p_image)]:
            np.testing.assert_allclose(curve[:, 0], start, atol=1e-5)
            np.testing.assert_allclose(curve[:, -1], end, atol=1e-5)
    # the object's own mask, as a map, must beat its negation on both curves
    good, bad = masks + 1e-3 * maps, (1 - masks) + 1e-3 * maps
    options = dict(steps=16, baseline="blur")
    assert (faithfulness.deletion_auc(model, images, good, classes, **options).mean()
            < faithfulness.deletion_auc(model, images, bad, classes, **options).mean() - 0.2)
    assert (faithfulness.insertion_auc(model, images, good, classes, **options).mean()
            > faithfulness.insertion_auc(model, images, bad, classes, **options).mean() + 0.2)


def test_curve_auc_is_the_mean_height_on_a_unit_axis():
    curve = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.5, 1.0]])
    np.testing.assert_allclose(faithfulness.curve_auc(curve), [1.0, 0.25, 0.5])


def test_perturbation_errors_name_the_problem(batch):
    model, images, classes, maps, _ = batch
    with pytest.raises(ValueError, match="baseline"):
        faithfulness.perturbation_curve(model, images, maps, classes, baseline="noise")
    with pytest.raises(ValueError, match="mode"):
        faithfulness.perturbation_curve(model, images, maps, classes, mode="flip")
    with pytest.raises(ValueError, match="do not match"):
        faithfulness.perturbation_curve(model, images, maps[:, :32], classes)


def test_confidence_change_agrees_with_pytorch_grad_cam(batch):
    from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    model, images, classes, maps, _ = batch
    drop, increase = faithfulness.confidence_change(model, images, maps, classes)
    change = CamMultImageConfidenceChange()(
        images, maps.numpy(), [ClassifierOutputSoftmaxTarget(int(c)) for c in classes], model)
    before = faithfulness.class_probability(model, images, classes).numpy()
    # pytorch-grad-cam returns p(image * map) - p(image); average drop is the relative loss
    change = np.asarray(change).reshape(-1)
    np.testing.assert_allclose(drop, 100 * np.maximum(0, -change) / before, atol=1e-3)
    np.testing.assert_array_equal(increase.numpy(), 100.0 * (change > 0))


def test_road_imputation_solves_pytorch_grad_cams_system(batch):
    """Our batched conjugate gradients against pytorch-grad-cam's sparse direct solve of the
    same noisy linear imputation, noise off; known pixels are never touched."""
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer

    _, images, _, maps, _ = batch
    removed = (maps[:4] > maps[:4].flatten(1).quantile(0.3, dim=1)[:, None, None])[:, None]
    ours = road.impute(images[:4], removed, noise=0.0, tol=1e-6)
    for i in range(4):
        theirs = NoisyLinearImputer(noise=0.0)(images[i], (~removed[i, 0]).float())  # (H, W)
        np.testing.assert_allclose(ours[i].numpy(), theirs.numpy(), atol=2e-4)
    assert torch.equal(ours[~removed.expand_as(ours)], images[:4][~removed.expand_as(ours)])
    # a weighted mean of neighbours never leaves the known values' range (maximum principle)
    assert ours.amin() >= images[:4].amin() - 1e-4 and ours.amax() <= images[:4].amax() + 1e-4


def test_road_combined_agrees_with_pytorch_grad_cam(batch):
    from pytorch_grad_cam.metrics.road import ROADCombined
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    model, images, classes, maps, _ = batch
    morf, lerf = road.road_curves(model, images, maps, classes)
    assert morf.shape == lerf.shape == (16, len(road.FRACTIONS))
    torch.manual_seed(0)  # theirs draws its imputation noise from the global generator
    theirs = ROADCombined()(images, maps.numpy(),
                            [ClassifierOutputSoftmaxTarget(int(c)) for c in classes], model)
    # the noise draws differ and np.percentile may keep one pixel more: per image within
    # 0.02, on average within 0.005 (the scores span -0.04 to 0.47 here)
    ours = ((lerf - morf).mean(1) / 2).numpy()
    np.testing.assert_allclose(ours, theirs, atol=2e-2)
    assert np.abs(ours - theirs).mean() < 5e-3


def test_road_rewards_the_region_the_model_reads():
    """A model that reads one quadrant: the map on that quadrant beats its inverse."""
    class Quadrant(torch.nn.Module):
        def forward(self, x):
            score = 20 * (x[:, :, :8, :8].mean((1, 2, 3)) - 0.5)
            return torch.stack([score, -score], 1)

    images = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    images[:, :, :8, :8] = 0.9
    right = torch.zeros(6, 16, 16)
    right[:, :8, :8] = 1
    right = right + 1e-3 * torch.rand(6, 16, 16, generator=torch.Generator().manual_seed(1))
    targets = torch.zeros(6, dtype=torch.long)
    morf, lerf = road.road_curves(Quadrant(), images, right, targets)
    morf_bad, lerf_bad = road.road_curves(Quadrant(), images, 1 - right, targets)
    assert (morf.mean(1) < morf_bad.mean(1)).all() and (lerf.mean(1) > lerf_bad.mean(1)).all()
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        road.road_curves(Quadrant(), images, right, targets, fractions=(0.5, 1.0))
    with pytest.raises(ValueError, match="every pixel removed"):
        road.impute(images, torch.ones(6, 1, 16, 16, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"expected \(B, 1, H, W\)"):
        road.impute(images, torch.ones(6, 16, 16, dtype=torch.bool))


# ---------------------------------------------------------------- localisation

def test_localisation_matches_quantus(batch):
    _, images, classes, maps, masks = batch
    kw = dict(x_batch=images.numpy(), y_batch=classes.numpy(), a_batch=maps[:, None].numpy(),
              s_batch=(masks[:, None] > 0.5).numpy(), model=None)
    hits = quantus.PointingGame(disable_warnings=True)(**kw)
    np.testing.assert_array_equal(localisation.pointing_game(maps, masks), np.asarray(hits, float))
    mass = quantus.RelevanceMassAccuracy(disable_warnings=True)(**kw)
    np.testing.assert_allclose(localisation.energy_pointing_game(maps, masks), mass, atol=1e-5)


def test_localisation_invariants():
    masks = torch.zeros(3, 8, 8)
    masks[:, 2:5, 2:5] = 1
    masks[2] = 0  # no object: undefined
    perfect = masks.clone()
    assert localisation.energy_pointing_game(perfect, masks)[:2].tolist() == [1.0, 1.0]
    assert localisation.iou(perfect, masks)[:2].tolist() == [1.0, 1.0]
    assert localisation.pointing_game(perfect, masks)[:2].tolist() == [1.0, 1.0]
    assert localisation.pointing_game(perfect, masks)[2].isnan()
    outside = 1 - masks
    assert localisation.energy_pointing_game(outside, masks)[:2].tolist() == [0.0, 0.0]
    assert localisation.iou(outside, masks)[:2].tolist() == [0.0, 0.0]
    uniform = torch.ones(3, 8, 8)
    np.testing.assert_allclose(localisation.energy_pointing_game(uniform, masks)[:2], 9 / 64)
    with pytest.raises(ValueError, match="shape"):
        localisation.iou(uniform, masks[:, :4])


# ---------------------------------------------------------------- complexity

def test_complexity_matches_quantus(batch):
    _, images, classes, maps, _ = batch
    kw = dict(x_batch=images.numpy(), y_batch=classes.numpy(), model=None)
    gini = quantus.Sparseness(disable_warnings=True, normalise=False)(
        a_batch=maps[:, None].double().numpy(), **kw)
    np.testing.assert_allclose(complexity.sparseness(maps), gini, atol=1e-5)
    ent = quantus.Complexity(disable_warnings=True, normalise=False)(
        a_batch=maps[:, None].double().numpy(), **kw)
    np.testing.assert_allclose(complexity.entropy(maps), ent, atol=1e-4)


def test_complexity_invariants():
    uniform, point = torch.ones(1, 10, 10), torch.zeros(1, 10, 10)
    point[0, 3, 4] = 1
    assert complexity.sparseness(uniform).item() == pytest.approx(0, abs=1e-6)
    assert complexity.sparseness(point).item() == pytest.approx(0.99, abs=1e-4)
    assert complexity.entropy(uniform).item() == pytest.approx(math.log(100), abs=1e-5)
    assert complexity.entropy(point).item() == pytest.approx(0, abs=1e-6)
    assert complexity.entropy(torch.zeros(1, 4, 4)).isnan()


# ---------------------------------------------------------------- robustness

def test_max_sensitivity_matches_quantus_on_the_same_noise(batch):
    model, images, classes, _, _ = batch
    images, classes = images[:6], classes[:6]
    explain = xg.explainers.get("gradcam")
    maps = explain(model, images, classes)
    keep = maps.flatten(1).amax(1) > 0  # Quantus divides by the map's norm: skip empty maps
    images, classes, maps = images[keep], classes[keep], maps[keep]
    noise = (torch.rand((4, *images.shape), generator=torch.Generator().manual_seed(1)) - 0.5) * 0.1
    ours = robustness.max_sensitivity(explain, model, images, classes, maps, noise=noise)
    draws = iter(noise.numpy())

    def same_noise(arr, indices, **kw):
        return arr + next(draws).reshape(arr.shape)

    theirs = quantus.MaxSensitivity(nr_samples=4, perturb_func=same_noise, disable_warnings=True)(
        model=model, x_batch=images.numpy(), y_batch=classes.numpy(), a_batch=maps[:, None].numpy(),
        explain_func=lambda model, inputs, targets, **kw: explain(
            model, torch.as_tensor(inputs), torch.as_tensor(targets))[:, None].numpy(),
        device="cpu")
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    assert (ours > 0).all()


# ---------------------------------------------------------------- randomisation

@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # scipy on constant maps
def test_randomisation_cascade_matches_quantus_mprt(batch):
    model, images, classes, _, _ = batch
    images, classes = images[:6], classes[:6]
    explain = xg.explainers.get("gradcam")
    maps = explain(model, images, classes)
    before = [p.clone() for p in model.parameters()]
    keep = maps.flatten(1).std(1) > 0  # a constant map has no ranks to randomise
    images, classes, maps = images[keep], classes[keep], maps[keep]
    ours = randomisation.model_parameter_randomisation(explain, model, images, classes, maps,
                                                       seed=42)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())), "model modified"
    theirs = quantus.MPRT(seed=42, disable_warnings=True)(
        model=model, x_batch=images.numpy(), y_batch=classes.numpy(), a_batch=maps[:, None].numpy(),
        explain_func=lambda model, inputs, targets, **kw: explain(
            model, torch.as_tensor(inputs), torch.as_tensor(targets))[:, None].numpy(),
        device="cpu")
    theirs = {k: v for k, v in theirs.items() if k != "original"}
    assert list(ours) == list(theirs)  # same layers, same order (output layer first)
    for layer, scores in ours.items():
        expected = np.asarray(theirs[layer], float)
        # where randomisation leaves a constant map Quantus' Spearman is NaN; ours says 0
        expected = np.where(np.isnan(expected), 0.0, expected)
        np.testing.assert_allclose(scores, expected, atol=1e-5, err_msg=layer)


def test_randomisation_tells_a_model_explanation_from_an_edge_detector(shapes_cnn):
    model, items = shapes_cnn
    b = default_collate(items[:24])
    images = b["image"]
    with torch.no_grad():
        classes = model(images).argmax(1)
    gradcam = xg.explainers.get("gradcam")
    for measure in ("spearman", "ssim"):
        cam = randomisation.model_parameter_randomisation(gradcam, model, images, classes,
                                                          similarity=measure, last_only=True)
        edges = randomisation.model_parameter_randomisation(sobel_edges, model, images, classes,
                                                            similarity=measure, last_only=True)
        cam, edges = next(iter(cam.values())).nanmean(), next(iter(edges.values())).mean()
        assert edges.item() == pytest.approx(1.0, abs=1e-6), measure
        assert cam.item() < 0.5, measure
    steps = randomisation.model_parameter_randomisation(gradcam, model, images, classes)
    assert len(steps) == sum(hasattr(m, "reset_parameters") for m in model.modules())


# ---------------------------------------------------------------- similarity

def test_similarity_matches_scikit_image_and_scipy(batch):
    from scipy.stats import pearsonr, spearmanr
    from skimage.metrics import structural_similarity

    _, images, _, maps, _ = batch
    other = images.mean(1)
    ours = xg.maps.ssim(maps, other)
    for a, b, s in zip(maps.double().numpy(), other.double().numpy(), ours):
        ref = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False)
        assert s.item() == pytest.approx(ref, abs=1e-5)
    ties = (maps * 4).round() / 4  # many tied values: average ranks must match scipy's
    pearson, spearman = xg.maps.pearson(ties, other), xg.maps.spearman(ties, other)
    for a, b, p, r in zip(ties, other, pearson, spearman):
        assert p.item() == pytest.approx(pearsonr(a.flatten(), b.flatten())[0], abs=1e-5)
        assert r.item() == pytest.approx(spearmanr(a.flatten(), b.flatten())[0], abs=1e-5)
    assert xg.maps.ssim(maps, maps).tolist() == pytest.approx([1.0] * len(maps))
    assert xg.maps.mae(maps, maps).abs().max() == 0
    assert xg.maps.pearson(maps, torch.ones_like(maps)).isnan().all()
    with pytest.raises(ValueError, match="shape"):
        xg.maps.mae(maps, maps[:, :5])


# ---------------------------------------------------------------- evaluate

FEW_STEPS = {"deletion_auc": {"steps": 8}, "insertion_auc": {"steps": 8},
             "max_sensitivity": {"samples": 2}}  # to keep the tests fast

def test_evaluate_returns_a_tidy_table_and_a_ranked_summary(shapes_cnn):
    model, items = shapes_cnn
    methods = {"gradcam": xg.explainers.get("gradcam"), "edges": sobel_edges}
    table = xg.metrics.evaluate(model, items, methods, n=6, batch_size=4, teacher="gradcam",
                                options=FEW_STEPS, progress=False)
    assert list(table.columns) == ["method", "metric", "category", "image", "value", "better"]
    assert set(table.metric) == set(xg.metrics.METRICS)
    assert len(table) == 2 * len(xg.metrics.METRICS) * 6
    assert table.groupby(["method", "metric"]).image.nunique().eq(6).all()
    summary = xg.metrics.summarise(table)
    assert len(summary) == 2 * len(xg.metrics.METRICS)
    row = summary.set_index(["method", "metric"])
    assert row.loc[("gradcam", "ssim"), "mean"] == pytest.approx(1.0)
    assert row.loc[("edges", "randomisation_spearman"), "mean"] == pytest.approx(1.0)
    assert row.loc[("gradcam", "randomisation_spearman"), "rank"] == 1  # lower is better
    assert row.loc[("gradcam", "pearson"), "rank"] == 1  # higher is better
    assert set(summary.better) == {"higher", "lower"}


def test_a_registered_metric_is_scored_by_evaluate(shapes_cnn):
    """Adding a metric is one decorated function: evaluate scores it with no other change."""
    model, items = shapes_cnn

    def peak_share(e, power):
        maps = e.maps.flatten(1) ** power
        return maps.amax(1) / maps.sum(1).clamp_min(1e-12)

    xg.metrics.metric("peak_share", "complexity", "higher", options={"power": 1.0})(peak_share)
    try:
        names = xg.metrics.available()
        assert names.index("entropy") < names.index("peak_share") < names.index(
            "max_sensitivity")  # ordered by category, then as registered
        table = xg.metrics.evaluate(model, items, ["gradcam"], metrics=["peak_share", "entropy"],
                                    n=3, progress=False)
        assert set(table.metric) == {"peak_share", "entropy"}
        row = table[table.metric == "peak_share"]
        assert (row.category == "complexity").all() and (row.better == "higher").all()
        assert row.value.between(0, 1).all() and row.value.gt(0).all()
        squared = xg.metrics.evaluate(model, items, ["gradcam"], metrics=["peak_share"], n=3,
                                      options={"peak_share": {"power": 2.0}}, progress=False)
        assert (squared.value.to_numpy() > row.value.to_numpy()).all()  # its setting reached it
        with pytest.raises(ValueError, match="registered twice"):
            xg.metrics.metric("peak_share", "complexity", "higher")(peak_share)
    finally:
        del xg.metrics.METRICS["peak_share"]
    with pytest.raises(ValueError, match="unknown category"):
        xg.metrics.metric("other", "beauty", "higher")


def test_cost_leaves_one_off_set_up_out(shapes_cnn):
    """An explainer whose first call takes a second (lazy set-up) costs what its later calls
    cost: evaluate warms each method up before timing it, and only when cost is scored."""
    model, items = shapes_cnn
    calls = []

    def slow_start(model, images, targets):
        if not calls:
            time.sleep(1.0)
        calls.append(len(images))
        return images.mean(1)

    table = xg.metrics.evaluate(model, items, {"slow-start": slow_start},
                                metrics=["ms_per_image"], n=6, batch_size=4, progress=False)
    # a warm-up for each batch shape (CPU kernels are prepared per shape), then the timed batch
    assert calls == [4, 4, 2, 2]
    assert table.value.max() < 100  # ms per image: a second spread over 4 would be 250
    calls.clear()
    xg.metrics.evaluate(model, items, {"slow-start": slow_start}, metrics=["sparseness"], n=6,
                        batch_size=4, progress=False)
    assert calls == [4, 2]  # nothing timed: each batch explained once


def test_evaluate_errors_name_the_problem(shapes_cnn):
    model, items = shapes_cnn
    no_masks = [{k: v for k, v in item.items() if k != "mask"} for item in items[:4]]
    with pytest.raises(ValueError, match="unknown metric"):
        xg.metrics.evaluate(model, items, ["gradcam"], metrics=["accuracy"], n=2)
    with pytest.raises(ValueError, match="masks"):
        xg.metrics.evaluate(model, no_masks, ["gradcam"], metrics=["iou"], n=2)
    with pytest.raises(ValueError, match="teacher"):
        xg.metrics.evaluate(model, items, ["gradcam"], metrics=["ssim"], n=2)
    with pytest.raises(ValueError, match="classes"):
        xg.metrics.evaluate(model, items, ["gradcam"], classes="true", n=2)
    table = xg.metrics.evaluate(model, no_masks, ["gradcam"], metrics="all", n=2,
                                options=FEW_STEPS, progress=False)
    assert "iou" not in set(table.metric) and "ssim" not in set(table.metric)


SET = ["deletion_auc", "insertion_auc", "average_drop", "increase_in_confidence", "road_morf",
       "road_lerf", "road_combined", "max_sensitivity", "randomisation_spearman", "entropy"]


def scores(shapes_cnn, options=None) -> pd.Series:
    """Every metric of SET that has settings (and one without) on 4 images, in 2 batches."""
    model, items = shapes_cnn
    table = xg.metrics.evaluate(model, items, ["gradcam"], SET, n=4, batch_size=2,
                                options=options, progress=False)
    return table.set_index(["metric", "image"]).value


@pytest.fixture(scope="module")
def default_scores(shapes_cnn):
    return scores(shapes_cnn)


def test_metrics_declare_their_settings_with_the_defaults_they_always_had(shapes_cnn,
                                                                          default_scores):
    declared = {name: dict(m.options.defaults) for name, m in xg.metrics.METRICS.items()
                if m.options.defaults}
    road, confidence, curve = {"seed": 0}, {"temperature": 1.0}, {"steps": 64, "baseline": "blur"}
    assert declared == {"deletion_auc": curve, "insertion_auc": curve,
                        "average_drop": confidence, "increase_in_confidence": confidence,
                        "road_morf": road, "road_lerf": road, "road_combined": road,
                        "max_sensitivity": {"samples": 5, "radius": 0.02, "seed": 0},
                        "randomisation_spearman": {"seed": 0}, "randomisation_ssim": {"seed": 0}}
    assert set(xg.metrics.for_every("seed", 0)) == {name for name, o in declared.items()
                                                    if "seed" in o}
    pd.testing.assert_series_equal(scores(shapes_cnn, declared), default_scores)


def changed(values: pd.Series, reference: pd.Series) -> set[str]:
    """The metrics with a value that differs (NaN equals NaN)."""
    differs = values.ne(reference) & ~(values.isna() & reference.isna())
    return set(differs[differs].index.get_level_values("metric"))


def test_a_setting_changes_its_metric_and_its_group_and_no_other(shapes_cnn, default_scores):
    """ROAD's three scores share one seed and the confidence metrics one temperature: a
    setting given for one member is the group's."""
    given = scores(shapes_cnn, {"deletion_auc": {"baseline": "zero"},
                                "road_morf": {"seed": 1}, "average_drop": {"temperature": 3.0}})
    # increase in confidence is 0 or 100: a temperature may leave it as it was
    assert changed(given, default_scores) - {"increase_in_confidence"} == {
        "deletion_auc", "road_morf", "road_lerf", "road_combined", "average_drop"}
    through_others = scores(shapes_cnn, {"deletion_auc": {"baseline": "zero"},
                                         "road_combined": {"seed": 1},
                                         "increase_in_confidence": {"temperature": 3.0}})
    pd.testing.assert_series_equal(through_others, given)


def test_option_errors_name_the_problem_and_the_valid_choices(shapes_cnn):
    model, items = shapes_cnn

    def run(options):
        xg.metrics.evaluate(model, items, ["gradcam"], ["road_morf"], n=2, options=options)

    with pytest.raises(ValueError, match="unknown metric 'accuracy'.*'deletion_auc'"):
        run({"accuracy": {"steps": 4}})
    with pytest.raises(ValueError, match=r"unknown option 'step' .*\['baseline', 'steps'\]"):
        run({"deletion_auc": {"step": 4}})
    with pytest.raises(ValueError, match="unknown option 'seed' of metric 'entropy'.*none"):
        run({"entropy": {"seed": 4}})
    with pytest.raises(ValueError, match="'road_morf' and 'road_lerf' share one computation"):
        run({"road_morf": {"seed": 1}, "road_lerf": {"seed": 2}})
    run({"road_morf": {"seed": 1}, "road_lerf": {"seed": 1}})  # the same value twice is fine


def test_max_sensitivity_of_an_empty_map_is_undefined(batch):
    model, images, classes, _, _ = batch

    def empty_then_noise(model, x, targets):  # an empty map for the clean images only
        return torch.zeros(x.shape[0], *x.shape[-2:]) if torch.equal(x, images[:2]) \
            else torch.rand(x.shape[0], *x.shape[-2:])

    out = robustness.max_sensitivity(empty_then_noise, model, images[:2], classes[:2], samples=2)
    assert out.isnan().all()


def test_intervals_and_paired_tests_match_scipy_and_hand_computed_values():
    from scipy import stats

    rng = np.random.default_rng(0)
    a = rng.normal(0.5, 0.1, 30)
    b = a + rng.normal(0.02, 0.01, 30)  # always about 0.02 above a: paired, clearly different
    table = pd.DataFrame(
        [{"method": m, "metric": "insertion_auc", "image": i, "value": v}
         for m, values in (("a", a), ("b", b)) for i, v in enumerate(values)])
    shown = xg.metrics.intervals(table).set_index("method")
    assert shown.loc["a", "n"] == 30
    assert shown.loc["a", "half_width"] == pytest.approx(2.0452 * a.std(ddof=1) / np.sqrt(30),
                                                         rel=1e-3)
    test = xg.metrics.paired(table, "b", "a", "insertion_auc")
    assert test["difference"] == pytest.approx((b - a).mean())
    assert test["p"] == pytest.approx(stats.ttest_rel(b, a).pvalue) and test["p"] < 1e-6
    # the two unpaired intervals overlap, the paired one excludes 0
    assert abs(shown.loc["b", "mean"] - shown.loc["a", "mean"]) < shown.loc["a", "half_width"]
    assert test["difference"] - test["half_width"] > 0
    assert xg.metrics.paired(table, "a", "a", "insertion_auc")["p"] == 1.0
    with pytest.raises(ValueError, match=r"no insertion_auc scores for \['c'\]"):
        xg.metrics.paired(table, "a", "c", "insertion_auc")


def test_metric_bars_draw_each_mean_with_1_96_standard_errors():
    import matplotlib.pyplot as plt

    values = {"a": [0.1, 0.3, 0.2, 0.6], "b": [0.5, 0.5, 0.7, 0.9]}
    table = pd.DataFrame([{"method": m, "metric": "iou", "image": i, "value": v,
                           "better": "higher"} for m, vs in values.items()
                          for i, v in enumerate(vs)])
    fig = xg.plotting.metric_bars(table)
    ax = fig.axes[0]
    assert ax.get_title() == "iou (higher is better)"
    widths = sorted(bar.get_width() for bar in ax.patches)
    assert widths == pytest.approx(sorted(np.mean(vs) for vs in values.values()))
    drawn = sorted(tuple(sorted(line.get_xdata())) for line in ax.lines)
    expected = sorted((np.mean(vs) - 1.96 * np.std(vs, ddof=1) / 2,
                       np.mean(vs) + 1.96 * np.std(vs, ddof=1) / 2) for vs in values.values())
    assert drawn == [pytest.approx(pair) for pair in expected]
    plt.close(fig)


def test_a_softening_temperature_unsaturates_the_confidence_metrics():
    """A CNN that is 100 % sure leaves no room for an increase in confidence; at the
    temperature that brings its median top probability to 0.9, a map that keeps the evidence
    and drops the counter-evidence shows one."""
    torch.manual_seed(0)
    # class 0's logit is 40 x the mean of the left half, class 1's 40 x the right half's
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, (8, 4), stride=(8, 4), bias=False),
                                torch.nn.Flatten())
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].weight[0, 0, :, :2] = 40 / 16
        model[0].weight[1, 0, :, 2:] = 40 / 16
    images = torch.zeros(6, 1, 8, 4)
    images[:, :, :, :2] = 0.9
    images[:, :, :, 2:] = torch.linspace(0.1, 0.4, 6)[:, None, None, None]  # counter-evidence
    maps = torch.zeros(6, 8, 4)
    maps[:, :, :2] = 1.0  # keeps class 0's half only
    targets = torch.zeros(6, dtype=torch.long)
    temperature = faithfulness.softening_temperature(model, images, confidence=0.9)
    top = (model(images) / temperature).softmax(1).amax(1).median()
    assert temperature > 1 and float(top) == pytest.approx(0.9, abs=1e-4)
    _, saturated = faithfulness.confidence_change(model, images, maps, targets)
    drop, softened = faithfulness.confidence_change(model, images, maps, targets,
                                                    temperature=temperature)
    assert saturated.sum() == 0 and (softened == 100).all() and (drop == 0).all()
    assert faithfulness.softening_temperature(model, images * 0, confidence=0.9) == 1.0


def test_ms_per_image_times_the_second_call():
    calls = []

    def explain(model, images, targets):
        calls.append(time.perf_counter())
        if len(calls) == 1:
            time.sleep(0.2)  # one-off set-up: not charged
        return torch.zeros(len(images), 4, 4)

    ms = xg.metrics.cost.ms_per_image(explain, None, torch.zeros(4, 1, 4, 4))
    assert len(calls) == 2 and ms < 50


def test_by_need_ranks_explainers_only_and_judges_the_best_against_the_references():
    rows = [("gradcam", "deletion_auc", "lower", 0.2), ("lrp", "deletion_auc", "lower", 0.1),
            ("gan", "deletion_auc", "lower", 0.3), ("random", "deletion_auc", "lower", 0.05),
            ("gradcam", "insertion_auc", "higher", 0.8), ("lrp", "insertion_auc", "higher", 0.9),
            ("gan", "insertion_auc", "higher", 0.7), ("random", "insertion_auc", "higher", 0.5),
            ("gradcam", "ms_per_image", "lower", 2.0), ("lrp", "ms_per_image", "lower", 1.0),
            ("gan", "ms_per_image", "lower", 1.0), ("random", "ms_per_image", "lower", 0.1)]
    summary = pd.DataFrame(rows, columns=["method", "metric", "better", "mean"])
    table = xg.metrics.by_need(summary, exclude=("copy",))
    assert list(table.index) == ["faithfulness", "speed"]  # needs without metrics left out
    faithful = table.loc["faithfulness"]
    assert (faithful.best, faithful.runner_up, faithful.gan_place) == ("lrp", "gradcam", 3)
    assert faithful.candidates == 3 and faithful.best_ms == 1.0
    assert faithful.beats_references is False  # noise deletes better: lrp shows nothing there
    speed = table.loc["speed"]
    assert speed.best == "gan" and speed.runner_up == "lrp"  # a tie goes by name order, stable
    assert speed.beats_references is None  # noise is fast by construction: not judged


def test_by_need_counts_means_equal_to_three_digits_as_a_tie_that_the_cheaper_wins():
    rows = [("gradcam++", "max_sensitivity", "lower", 0.0279999),
            ("gradcam++", "ms_per_image", "lower", 30.0),
            ("layercam", "max_sensitivity", "lower", 0.0280001),
            ("layercam", "ms_per_image", "lower", 8.0)]
    summary = pd.DataFrame(rows, columns=["method", "metric", "better", "mean"])
    stability = xg.metrics.by_need(summary).loc["stability"]
    assert (stability.best, stability.runner_up) == ("layercam", "gradcam++")
    assert stability.best_ms == 8.0
