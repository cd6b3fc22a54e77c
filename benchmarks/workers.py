"""Two one-thread processes against one two-thread process, on the main job's kind of work.

Times, side by side in one run, the same pieces of work done one after another in this
process (all its threads) and spread over ``--workers`` processes by
:func:`xai_gan.workers.run` (the pool's start-up included):

1. one training epoch of each of three zoo CNNs on ``--n`` shapes images at
   ``--size`` px;
2. Grad-CAM, LRP and Score-CAM scored by every metric on 8 test images of each CNN
   (untrained: the cost does not depend on the weights).

Prints seconds and the ratio (one process / workers).

    python benchmarks/workers.py [--n 1000] [--size 48] [--workers 2]
"""
import argparse
import time
import warnings

import torch

import xai_gan as xg

MODELS = ("vgg", "resnet", "densenet")


def train_epoch(name: str, n: int, size: int) -> float:
    model = xg.classifiers.build(name, 6, seed=0)
    data = xg.data.load("shapes", "train", size, n=n, seed=0)
    return xg.classifiers.train(model, data, epochs=1, progress=False)[-1]["train_loss"]


def score(name: str, method: str, size: int) -> int:
    warnings.simplefilter("ignore")  # untrained CNNs: all-zero maps are expected
    model = xg.classifiers.build(name, 6, seed=0).eval()
    test = xg.data.load("shapes", "test", size, n=8, seed=0)
    return len(xg.metrics.evaluate(model, test, [method], n=8, teacher="gradcam",
                                   progress=False))


def timed(func, tasks, workers):
    tic = time.perf_counter()
    out = xg.workers.run(func, tasks, workers)
    return out, time.perf_counter() - tic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"{torch.get_num_threads()} threads; shapes at {args.size} px\n\n"
          f"| work | one process (s) | {args.workers} workers (s) | ratio |\n|---|---|---|---|")
    xg.workers.run(train_epoch, [("vgg", 64, args.size)] * 2, args.workers)  # start the pool
    for label, func, tasks in [
            (f"an epoch of {', '.join(MODELS)} on {args.n} images", train_epoch,
             [(m, args.n, args.size) for m in MODELS]),
            ("Grad-CAM, LRP and Score-CAM x every metric, 8 images per CNN", score,
             [(m, method, args.size) for method in ("scorecam", "gradcam", "lrp")
              for m in MODELS])]:
        alone, one = timed(func, tasks, 1)
        shared, many = timed(func, tasks, args.workers)
        assert torch.allclose(torch.tensor(alone, dtype=torch.float),
                              torch.tensor(shared, dtype=torch.float), rtol=0.05), \
            "the workers computed something else"
        print(f"| {label} | {one:.1f} | {many:.1f} | {one / many:.2f} |")


if __name__ == "__main__":
    main()
