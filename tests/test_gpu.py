"""The device rule on CUDA: models on the GPU, images wherever the caller has them.

Marked ``gpu``: skipped where CUDA is absent (CI has none). On a GPU machine ``make test``
also runs every notebook on CUDA, since the notebooks and the pipeline default to it.
"""
import pytest
import torch

import xai_gan as xg
from xai_gan.gan import TrainConfig, train

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def models():
    cpu = xg.classifiers.build("resnet", 6, seed=0, mean=[0.5] * 3, std=[0.25] * 3).eval()
    gpu = xg.classifiers.build("resnet", 6, seed=0, mean=[0.5] * 3, std=[0.25] * 3)
    gpu.load_state_dict(cpu.state_dict())
    images = xg.data.load("shapes", "val", 64, n=4, seed=1)
    batch = torch.stack([images[i]["image"] for i in range(4)])
    return cpu, gpu.to(CUDA).eval(), batch


@pytest.mark.parametrize("method", xg.explainers.baselines())
def test_explainers_run_on_the_models_device_and_answer_on_the_images(models, method):
    cpu, gpu, images = models
    targets = torch.tensor([0, 1, 2, 3])
    on_gpu = xg.explainers.get(method)(gpu, images, targets)
    assert on_gpu.device.type == "cpu" and on_gpu.shape == (4, 64, 64)
    on_cpu = xg.explainers.get(method)(cpu, images, targets)
    assert (xg.maps.pearson(on_gpu, on_cpu).nan_to_num(1) > 0.95).all()
    assert xg.explainers.get(method)(gpu, images.to(CUDA), targets).device.type == "cuda"


def test_representation_prediction_and_metrics_follow_the_model(models):
    cpu, gpu, images = models
    maps = xg.representation.layer_gradcams(gpu, images)
    assert maps.device.type == "cpu"
    torch.testing.assert_close(maps, xg.representation.layer_gradcams(cpu, images),
                               atol=2e-2, rtol=0)
    assert xg.classifiers.predict(gpu, images).device.type == "cpu"
    heat = xg.explainers.get("gradcam")(gpu, images)
    classes = xg.classifiers.predict(gpu, images).argmax(1)
    assert xg.metrics.faithfulness.deletion_auc(gpu, images, heat, classes).device.type == "cpu"
    test = xg.data.load("shapes", "test", 64, n=4, seed=0)
    table = xg.metrics.evaluate(gpu, test, ["gradcam"], n=4, progress=False)
    assert table["value"].notna().any() and next(gpu.parameters()).is_cuda


def test_training_store_and_gan_on_cuda(tmp_path):
    train_ds = xg.data.load("shapes", "train", 64, n=64, seed=0)
    model = xg.classifiers.build("resnet", 6, seed=0)
    xg.classifiers.train(model, train_ds, epochs=1, batch_size=32, device="cuda", progress=False)
    assert next(model.parameters()).is_cuda
    stores = [xg.store.build(model, train_ds, tmp_path / s, k=4, map_size=32, progress=False)
              for s in ("train", "val")]
    result = train(stores[0], stores[1], TrainConfig(out_dir=tmp_path / "gan", epochs=1,
                                                     batch_size=16, device="cuda",
                                                     progress=False))
    assert next(result.generator.parameters()).is_cuda
    gan = xg.gan.GANExplainer.from_checkpoint(result.best_path)  # loads on the CPU
    images = torch.stack([train_ds[i]["image"] for i in range(3)])
    heat = gan(model, images)
    assert heat.device.type == "cpu" and heat.shape == (3, 64, 64) and heat.isfinite().all()
