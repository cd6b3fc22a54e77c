"""Every baseline explainer on every torchvision family: a usable map, or a clear refusal.

For each family (random init, seed 0, 10 classes) and each baseline explainer, explains the
predicted class of a seeded batch of smooth random images and prints a markdown table,
methods x families. A cell is ``n/N ok`` (maps that are finite and not constant) with the
seconds per image, ``refused: <reason>`` (the explainer raised a ValueError) or
``error: <type>`` (any other exception: a bug).

The images are uniform noise blurred with a Gaussian (sigma = size / 16) and min-max scaled
to [0, 1] per image and channel: random, but with image-like smooth blobs rather than
pixel noise. The slow methods run with reduced cost (see ``CHEAP`` and the printed notes)
unless ``--paper-settings`` is given.

    python benchmarks/families.py [--families resnet50 vgg16 ...] [--methods lrp sise ...]
                                  [--images 4] [--size 224] [--threads 1] [--paper-settings]

One thread by default: on a 2-core machine that other processes share, two OpenMP threads
spin-wait on each other and run 10-30x slower than one (a DenseNet-121 forward of 4 images
at 224 px: 3.5 s with 2 threads, 0.36 s with 1). Pass ``--threads 2`` on an idle machine.
"""
import argparse
import datetime
import importlib
import os
import platform
import re
import time
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # pytorch-grad-cam's Score-CAM progress bars

import torch  # noqa: E402

import xai_gan as xg  # noqa: E402
from xai_gan.maps import gaussian_blur  # noqa: E402

FAMILIES = ["resnet50", "vgg16", "densenet121", "mobilenet_v3_large", "efficientnet_b0",
            "inception_v3", "convnext_tiny"]
# Explainer options that keep the run to minutes on a 2-core CPU; each cuts the number of
# forward passes, which dominates these methods' cost.
CHEAP = {
    "scorecam": {"max_channels": 32, "batch_size": 32},
    "sise": {"max_masks": 8, "batch_size": 32},
    "gfi": {"stage1_steps": 3, "stage2_steps": 10},
}


def smooth_images(count: int, size: int, seed: int = 0) -> torch.Tensor:
    """(count, 3, size, size) blurred uniform noise, min-max scaled to [0, 1] per channel."""
    noise = torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed))
    blobs = gaussian_blur(noise, size / 16).flatten(2)
    low, high = blobs.amin(2, keepdim=True), blobs.amax(2, keepdim=True)
    return ((blobs - low) / (high - low)).view(count, 3, size, size)


def usable(heat: torch.Tensor) -> torch.Tensor:
    """(B,) bool: the map is finite and not constant (maps are scaled to a maximum of 1)."""
    flat = heat.flatten(1)
    return torch.isfinite(flat).all(1) & (flat.amax(1) - flat.amin(1) > 1e-6)


def cell(model, images, name, options, notes: list) -> str:
    """One table cell: ``n/N ok, s s/img``, ``refused: ...`` or ``error: ...``; the full
    message of a refusal or error goes to ``notes``."""
    explain = xg.explainers.get(name, **options)
    tic = time.perf_counter()
    try:
        with warnings.catch_warnings():  # e.g. a warning for an all-zero map: counted below
            warnings.simplefilter("ignore")
            heat = explain(model, images)
    except Exception as error:  # ValueError: a refusal; anything else: a bug
        notes.append(f"{name} on {type(model).__name__}: {type(error).__name__}: {error}")
        kind = "refused" if isinstance(error, ValueError) else "error"
        # The message up to its first clause, without the method's name (the row has it).
        return f"{kind}: " + re.split(r"[,;(]", str(error))[0].removeprefix(f"{name}: ")
    seconds = (time.perf_counter() - tic) / len(images)
    return f"{int(usable(heat).sum())}/{len(images)} ok, {seconds:.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=FAMILIES)
    parser.add_argument("--methods", nargs="+", default=xg.explainers.baselines())
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--paper-settings", action="store_true",
                        help="run every method with its defaults (slow: hours on a CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cheap = {} if args.paper_settings else CHEAP
    images = smooth_images(args.images, args.size)
    importlib.import_module("pytorch_grad_cam")  # imported on first use: charge no method
    results, notes = {name: {} for name in args.methods}, []
    start = time.perf_counter()
    for family in args.families:
        model = xg.classifiers.build(f"torchvision:{family}", num_classes=10, seed=0).eval()
        with torch.no_grad():  # warm-up, so that the first method is not charged for it
            model(images)
        for name in args.methods:
            results[name][family] = cell(model, images, name, cheap.get(name, {}), notes)
            print(f"{family} {name}: {results[name][family]}", flush=True)
    total = time.perf_counter() - start

    print(f"\n{args.images} smooth random images at {args.size} px, random-init models "
          f"(seed 0), {datetime.date.today()}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"total {total / 60:.1f} min\n")
    print("| method | " + " | ".join(args.families) + " |")
    print("|---" * (len(args.families) + 1) + "|")
    for name in args.methods:
        print(f"| {name} | " + " | ".join(results[name][f] for f in args.families) + " |")
    print()
    for name, options in cheap.items():
        if name in args.methods:
            print(f"- {name}: " + ", ".join(f"{k}={v}" for k, v in options.items()))
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
