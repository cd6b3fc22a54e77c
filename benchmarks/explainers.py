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


def cost_table(model, images, masks, named: dict) -> list[dict]:
    """Per explainer in ``named``: ms per image, passes per image and EBPG, on one batch."""
    rows = []
    for name, explain in named.items():
        explain(model, images[:2])  # warm-up: lazy imports, first-call allocations
        counter = PassCounter(model)
        tic = time.perf_counter()
        heat = explain(model, images)
        ms = (time.perf_counter() - tic) * 1000 / len(images)
        counter.handle.remove()
        ebpg = ((heat * masks).sum((1, 2)) / heat.sum((1, 2)).clamp_min(1e-12)).mean().item()
        rows.append({"method": name, "ms": ms, "forwards": counter.forward / len(images),
                     "backwards": counter.backward / len(images), "ebpg": ebpg})
    return rows


def load_test_batch(run_dir, model_name, n):
    """The run's trained classifier (trained first if missing) and ``n`` shapes test items."""
    config = xg.pipeline.RunConfig(run_dir=run_dir, models=[model_name], profile="full")
    if not config.checkpoint(model_name).exists():
        xg.pipeline.train_classifiers(config)
    model = xg.pipeline.load_classifier(config, model_name)
    test = xg.data.load("shapes", "test", config.image_size, n=n, seed=config.seed)
    batch = default_collate([test[i] for i in range(n)])
    return model, batch["image"], batch["mask"]


def print_cost_table(rows, masks):
    uniform = masks.mean((1, 2)).mean().item()
    print("| method | ms / image | forwards / image | backwards / image | EBPG (uniform "
          f"{uniform:.3f}) |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['ms']:.1f} | {r['forwards']:.1f} | {r['backwards']:.1f} | "
              f"{r['ebpg']:.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg")
    parser.add_argument("--run-dir", default="runs/zoo/shapes")
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--methods", nargs="+", default=xg.explainers.baselines())
    args = parser.parse_args()
    model, images, masks = load_test_batch(args.run_dir, args.model, args.n)
    print(f"{args.model} on {args.n} shapes test images at {images.shape[-1]} px, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    named = {name: xg.explainers.get(name) for name in args.methods}
    print_cost_table(cost_table(model, images, masks, named), masks)


if __name__ == "__main__":
    main()
