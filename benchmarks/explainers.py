"""Every explainer on the same trained CNN and the same test images, side by side.

Prints, per method: milliseconds per image, forward and backward passes per image (counted
with hooks on the model, not quoted), and the energy-based pointing game (share of the map's
energy inside the object) against a uniform map's score. Uses the trained classifier of a run
folder, training it first (full profile) if it is missing.

    python benchmarks/explainers.py [--model vgg] [--run-dir runs/zoo/shapes] [--n 32]
"""
import argparse
import time

import torch
from torch.utils.data import default_collate

import xai_gan as xg


class PassCounter:
    """Counts images through the model's forward, and gradients flowing back out of it."""

    def __init__(self, model):
        self.forward = self.backward = 0
        self.handle = model.register_forward_hook(self.hook)

    def hook(self, module, args, output):
        self.forward += len(output)
        if output.requires_grad:
            output.register_hook(self.count_backward)

    def count_backward(self, grad):
        self.backward += len(grad)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg")
    parser.add_argument("--run-dir", default="runs/zoo/shapes")
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--methods", nargs="+", default=xg.explainers.baselines())
    args = parser.parse_args()
    config = xg.pipeline.RunConfig(run_dir=args.run_dir, models=[args.model], profile="full")
    if not config.checkpoint(args.model).exists():
        xg.pipeline.train_classifiers(config)
    model = xg.pipeline.load_classifier(config, args.model)
    test = xg.data.load("shapes", "test", config.image_size, n=args.n, seed=config.seed)
    batch = default_collate([test[i] for i in range(args.n)])
    images, masks = batch["image"], batch["mask"]
    uniform = masks.mean((1, 2)).mean().item()
    print(f"{args.model} on {args.n} shapes test images at {config.image_size} px, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| method | ms / image | forwards / image | backwards / image | EBPG (uniform "
          f"{uniform:.3f}) |\n|---|---|---|---|---|")
    for name in args.methods:
        explain = xg.explainers.get(name)
        explain(model, images[:2])  # warm-up: lazy imports, first-call allocations
        counter = PassCounter(model)
        tic = time.perf_counter()
        heat = explain(model, images)
        ms = (time.perf_counter() - tic) * 1000 / args.n
        counter.handle.remove()
        ebpg = ((heat * masks).sum((1, 2)) / heat.sum((1, 2)).clamp_min(1e-12)).mean().item()
        print(f"| {name} | {ms:.1f} | {counter.forward / args.n:.1f} | "
              f"{counter.backward / args.n:.1f} | {ebpg:.3f} |")


if __name__ == "__main__":
    main()
