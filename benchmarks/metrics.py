"""Our batched deletion curve against Quantus' PixelFlipping, same model, images and maps.

Two comparisons, side by side in one run, on a trained shapes CNN (zero baseline):

1. the same curve: ours has ``--steps`` steps of whole pixels; Quantus flips channel values
   (its step must divide H * W), so it needs 3x the steps, and 3x the forwards, for the same
   curve on colour images. The curves must agree. Also the throughput per forward pass.
2. Quantus' default resolution (``features_in_step=1``: one channel value a step, 3 * H * W
   forwards per image) against ours at ``--steps``: the area under the curve they give, and
   the time each takes.

Prints seconds, images per second and the ratio. Uses the trained classifier of a run folder,
training it first (full profile) if it is missing.

    python benchmarks/metrics.py [--model vgg] [--n 32] [--steps 64] [--n-full 4]

``--batches`` instead times one deletion curve of 4 random images per CNN and image size,
in forwards of 256 images against the default batch (``forward_batch``: about 2**18 pixels
on a CPU), untrained CNNs (the cost does not depend on the weights):

    python benchmarks/metrics.py --batches
"""
import argparse
import time
import warnings

import numpy as np
import quantus
import torch
from torch.utils.data import default_collate

import xai_gan as xg
from xai_gan.metrics import faithfulness

warnings.filterwarnings("ignore", module="quantus")


def quantus_curve(model, images, classes, maps, features_in_step):
    metric = quantus.PixelFlipping(features_in_step=features_in_step, perturb_baseline=0.0,
                                   normalise=False, abs=False, disable_warnings=True)
    return np.array(metric(model=model, x_batch=images.numpy(), y_batch=classes.numpy(),
                           a_batch=maps[:, None].numpy(), device="cpu", batch_size=len(images)))


def timed(func):
    tic = time.perf_counter()
    out = func()
    return out, time.perf_counter() - tic


def batches() -> None:
    """Seconds per deletion curve, 256 images a forward against the default batch."""
    print("| CNN | px | batch 256 (s) | default batch | default (s) | 256 / default |\n"
          "|---|---|---|---|---|---|")
    for name, size in [("vgg", 64), ("resnet", 64), ("efficientnet_lite0", 128),
                       ("efficientnet_lite0", 224)]:
        model = xg.classifiers.build(name, 6, seed=0).eval()
        images, maps = torch.rand(4, 3, size, size), torch.rand(4, size, size)
        classes = torch.zeros(4, dtype=torch.long)
        default = xg.devices.forward_batch(images)
        seconds = {}
        for batch in (256, default):
            curve = lambda: faithfulness.perturbation_curve(model, images, maps, classes,
                                                            batch_size=batch)
            curve()  # warm-up: kernels for the new shapes
            seconds[batch] = min(timed(curve)[1] for _ in range(3))
        print(f"| {name} | {size} | {seconds[256]:.2f} | {default} | {seconds[default]:.2f} | "
              f"{seconds[256] / seconds[default]:.2f}x |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg")
    parser.add_argument("--batches", action="store_true",
                        help="time the metrics' forward batch size instead")
    parser.add_argument("--run-dir", default="runs/zoo/shapes")
    parser.add_argument("--n", type=int, default=32, help="images, equal-resolution comparison")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--n-full", type=int, default=4,
                        help="images, comparison with Quantus' default resolution")
    args = parser.parse_args()
    if args.batches:
        return batches()
    config = xg.pipeline.RunConfig(run_dir=args.run_dir, models=[args.model], profile="full")
    if not config.checkpoint(args.model).exists():
        xg.pipeline.train_classifiers(config)
    model = xg.pipeline.load_classifier(config, args.model)
    test = xg.data.load("shapes", "test", config.image_size, n=args.n, seed=config.seed)
    images = default_collate([test[i] for i in range(args.n)])["image"]
    with torch.no_grad():
        classes = model(images).argmax(1)
    maps = xg.explainers.get("gradcam")(model, images, classes).double()
    maps = maps + 1e-6 * torch.rand(maps.shape, generator=torch.Generator().manual_seed(0))
    pixels = images.shape[-1] * images.shape[-2]
    channels = images.shape[1]
    print(f"{args.model} at {config.image_size} px, torch {torch.__version__}, "
          f"quantus {quantus.__version__}, {torch.get_num_threads()} threads")

    # Quantus flips channel values, the map broadcast over channels, and its step must divide
    # H * W. So to get our curve of --steps points (pixels // steps pixels a step) it needs
    # channels x as many steps; its step 3i - 1 then flips the same pixels as our step i.
    per_step = pixels // args.steps
    if pixels % args.steps:
        raise SystemExit("--steps must divide H * W")
    theirs, q_seconds = timed(lambda: quantus_curve(model, images, classes, maps, per_step))
    ours, o_seconds = timed(lambda: faithfulness.perturbation_curve(
        model, images, maps, classes, "deletion", steps=args.steps, baseline="zero"))
    gap = np.abs(ours[:, 1:].numpy() - theirs[:, channels - 1::channels]).max()
    print("\n| comparison | Quantus s | ours s | ratio | agreement |\n|---|---|---|---|---|")
    print(f"| same deletion curve ({args.steps} steps of {per_step} px), {args.n} images: "
          f"Quantus needs {theirs.shape[1]} steps | {q_seconds:.2f} | {o_seconds:.2f} | "
          f"{q_seconds / o_seconds:.1f}x | max gap {gap:.1e} |")
    q_rate = args.n * theirs.shape[1] / q_seconds
    o_rate = args.n * ours.shape[1] / o_seconds
    print(f"| per forward pass (images / s through the CNN) | {q_rate:.0f} | {o_rate:.0f} | "
          f"{o_rate / q_rate:.2f}x | both bound by the CNN |")

    # 2. Quantus' default resolution against ours at --steps
    few = slice(0, args.n_full)
    intact = faithfulness.class_probability(model, images[few], classes[few])
    theirs, q_seconds = timed(lambda: quantus_curve(model, images[few], classes[few], maps[few], 1))
    their_auc = faithfulness.curve_auc(torch.cat([intact[:, None],
                                                  torch.as_tensor(theirs).float()], 1))
    ours, o_seconds = timed(lambda: faithfulness.deletion_auc(
        model, images[few], maps[few], classes[few], steps=args.steps, baseline="zero"))
    print(f"| deletion AUC, {args.n_full} images, Quantus default (1 value a step, "
          f"{theirs.shape[1]} steps) vs ours at {args.steps} steps | {q_seconds:.2f} | "
          f"{o_seconds:.2f} | {q_seconds / o_seconds:.0f}x | mean AUC {their_auc.mean():.4f} "
          f"vs {ours.mean():.4f}, max gap {(their_auc - ours).abs().max():.4f} |")


if __name__ == "__main__":
    main()
