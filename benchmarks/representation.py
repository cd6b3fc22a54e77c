"""All-layer Grad-CAM: our one pass against one pytorch-grad-cam GradCAM per layer.

Same model, same images, same layers, measured side by side in one run. Prints images/s of
both and their ratio (the ideal is about L: the loop runs L forwards and L backwards).
With ``--store N`` it also times building a store of N shapes images (k = 8) with a zoo CNN.

    python benchmarks/representation.py [--model torchvision:resnet18] [--size 64] [--batch 32]
                                        [--store 2000 --store-model resnet]
"""
import argparse
import tempfile
import time

import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

import xai_gan as xg


def per_layer_loop(model, images, layers):
    with torch.no_grad():
        targets = [ClassifierOutputTarget(int(t)) for t in model(images).argmax(1)]
    out = []
    for _, layer in layers:
        with GradCAM(model=model, target_layers=[layer]) as cam:
            out.append(torch.from_numpy(cam(input_tensor=images, targets=targets)))
    return torch.stack(out, 1)


def rate(fn, n_images, repeats):
    fn()  # warm-up
    tic = time.perf_counter()
    for _ in range(repeats):
        fn()
    return n_images * repeats / (time.perf_counter() - tic)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="torchvision:resnet18")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--store", type=int, default=0, help="also time a store of N images")
    parser.add_argument("--store-model", default="resnet")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = xg.classifiers.build(args.model, num_classes=6, seed=0).eval()
    images = torch.rand(args.batch, 3, args.size, args.size)
    layers = xg.classifiers.conv_layers(model, image_size=args.size)
    ours = rate(lambda: xg.representation.layer_gradcams(model, images), args.batch,
                args.repeats)
    loop = rate(lambda: per_layer_loop(model, images, layers), args.batch, args.repeats)
    print(f"{args.model} at {args.size} px, {len(layers)} conv layers, batch {args.batch}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"one pass (xai_gan):            {ours:8.1f} images/s")
    print(f"per-layer loop (pytorch-grad-cam): {loop:8.1f} images/s")
    print(f"ratio: {ours / loop:.1f}x (L/2 = {len(layers) / 2:.0f})")
    if args.store:
        dataset = xg.data.load("shapes", "train", args.size, n=args.store)
        cnn = xg.classifiers.build(args.store_model, num_classes=len(dataset.classes), seed=0)
        with tempfile.TemporaryDirectory() as folder:
            tic = time.perf_counter()
            xg.store.build(cnn, dataset, folder, k=8, progress=False)
            seconds = time.perf_counter() - tic
        print(f"store of {args.store} shapes images at {args.size} px, k=8, "
              f"{args.store_model}: {seconds:.1f} s (generating the images included)")


if __name__ == "__main__":
    main()
