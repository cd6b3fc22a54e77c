"""The real-photos study and the pretrained profile: a run's GAN explains the offline ImageNet
EfficientNet-Lite0 on the bundled photos, and the report opens with that figure."""
import pandas as pd
import pytest
import torch

import xai_gan as xg
from xai_gan.io import save_torch

K, MAP_SIZE = 8, 32


def write_gan(run: xg.RunConfig, channels: int = 3) -> None:
    """An untrained generator saved where the run's GAN goes (the study's cost and plumbing do
    not depend on its weights)."""
    generator = xg.gan.build_generator("msft", k=K, image_channels=channels, seed=0)
    shape = {"k": K, "map_size": MAP_SIZE, "image_channels": channels}
    save_torch(xg.gan.checkpoint.generator_state(generator, shape, {}, teacher="gradcam"),
               run.gan_dir / "best.pt")


def test_the_real_photos_study_scores_every_method_on_every_photo_and_opens_the_report(tmp_path):
    run = xg.RunConfig(run_dir=tmp_path, profile="ci", models=["vgg"])
    write_gan(run)
    table = xg.studies.real_photos(run)
    photos = xg.data.load("photos")
    assert set(table.method) == {"gan", "gradcam", "centre", "random"}
    assert set(table.metric) == {"pointing_game", "energy_pointing_game", "pearson"}
    assert (table.groupby(["method", "metric"]).size() == len(photos)).all()
    assert set(table.photo) == set(photos.names)
    scores = table.pivot_table(index="method", columns="metric", values="value")
    assert scores.loc["gradcam", "pearson"] == pytest.approx(1.0)  # its own teacher
    assert scores.loc["gradcam", "pointing_game"] > scores.loc["random", "pointing_game"]
    out = tmp_path / "studies" / "real-photos"
    assert (out / "photos.png").stat().st_size > 10_000
    stamp = (out / "per_image.csv").stat().st_mtime_ns
    xg.studies.real_photos(run)  # finished: read back, not recomputed
    assert (out / "per_image.csv").stat().st_mtime_ns == stamp

    page = xg.report.write(run).read_text()
    assert page.index("Real photos, a CNN the GAN never saw") < page.index("What this run shows")
    summary = pd.read_csv(out / "summary.csv")
    assert xg.report.photo_sentence(summary) in page.replace("&#x27;", "'")
    assert f"On {len(photos)} real photos" in xg.report.photo_sentence(summary)


def test_the_real_photos_study_is_skipped_for_a_grey_gan_or_a_collapsed_one(tmp_path):
    grey = xg.RunConfig(run_dir=tmp_path / "grey", profile="ci", models=["vgg"])
    write_gan(grey, channels=1)
    with pytest.raises(xg.studies.StudySkipped, match="colour images"):
        xg.studies.real_photos(grey)
    missing = xg.RunConfig(run_dir=tmp_path / "none", profile="ci", models=["vgg"])
    with pytest.raises(FileNotFoundError, match="xai-gan train-gan"):
        xg.studies.real_photos(missing)


def test_the_pretrained_profile_fine_tunes_the_offline_imagenet_cnn_on_quick_explainers():
    run = xg.RunConfig(profile="pretrained")
    assert run.models == ["efficientnet_lite0"] and run.weights == "imagenet"
    assert run.image_size == 128 and run.map_size == 64
    assert run.studies == ["real-photos", "condition-relevance"]
    assert (run.cnn_batch_size, run.cnn_lr) == (32, 1e-3)
    methods = run.default_methods()
    assert {"gradcam", "lrp", "copy", "random", "centre"} <= set(methods)
    assert not {"scorecam", "sise", "gfi"} & set(methods)  # minutes per image on this CNN
    assert set(methods) <= set(xg.explainers.baselines())
    main = xg.RunConfig(profile="main")
    assert main.weights is None and main.cnn_lr is None and main.cnn_batch_size == 64
    assert "real-photos" not in main.studies
    assert main.default_methods() == xg.explainers.baselines()
    assert xg.RunConfig(profile="pretrained", cnn_batch_size=8, cnn_lr=0.5).cnn_batch_size == 8


def test_a_gan_explains_the_pretrained_cnn_on_its_device_and_size():
    """The representation has the same form for any CNN: a GAN made for zoo CNNs explains the
    ImageNet EfficientNet-Lite0 at 224 px, one map per photo, in [0, 1]."""
    model = xg.classifiers.build("efficientnet_lite0", 1000, weights="imagenet")
    generator = xg.gan.build_generator("msft", k=K, seed=0)
    explainer = xg.explainers.get("gan", generator=generator, k=K, map_size=MAP_SIZE)
    photos = torch.stack([xg.data.load("photos")[i]["image"] for i in range(2)])
    heat = explainer(model, photos)
    assert heat.shape == (2, 224, 224) and heat.isfinite().all()
    assert heat.min() >= 0 and heat.max() <= 1
