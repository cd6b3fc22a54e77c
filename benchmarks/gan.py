"""The SFT-cGAN's cost: training throughput and FLOPs per generator and preset, and the cost
of one explanation by the GAN against the explainers it can stand in for.

1. Per generator and preset (64 px, k = 8, RGB): generator FLOPs per image (forward), FLOPs
   per training image (generator, discriminator and both backward passes, counted on a real
   training step), and training images/s through ``xai_gan.gan.train`` itself. On CUDA (bf16
   autocast and channels_last, the training defaults there) it also prints model-FLOPs
   utilisation against the GPU's dense bf16 peak.
2. Explanation cost per image of ``gan`` against ``gradcam``, ``sise``, ``scorecam`` and
   ``gfi``: same trained CNN, same test images, side by side (``benchmarks/explainers.py``).
   Cost does not depend on the weights: without ``--checkpoint`` an untrained generator of
   the asked architecture stands in.
3. Where the GAN's time goes, per ``--map-sizes`` entry (the side the generator works at):
   the representation (every conv layer's Grad-CAM from one forward and one backward, then
   the k cumulative maps), the generator, and the whole explainer, against Grad-CAM.

    python benchmarks/gan.py [--generators msft gsft lsft] [--presets tiny paper] [--batch 16]
                             [--steps 4] [--checkpoint runs/.../best.pt] [--n 32]
                             [--map-sizes 64 32]
"""
import argparse
import tempfile
import time

import torch
from torch.utils.data import Dataset
from torch.utils.flop_counter import FlopCounterMode

import xai_gan as xg
from explainers import cost_table, load_test_batch, print_cost_table

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "T4": 65.0}


class RandomStore(Dataset):
    """Store-shaped random items (the cost of a step does not depend on the values)."""

    def __init__(self, n, k=8, size=64, channels=3):
        g = torch.Generator().manual_seed(0)
        self.images = torch.rand(n, channels, size, size, generator=g)
        self.conditions = torch.rand(n, k, size, size, generator=g)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i], "conditions": self.conditions[i], "teacher_map": self.conditions[i, 0],
                "label": 0, "pred": 0}


def generator_flops(name, preset, k=8, size=64):
    gen = xg.gan.build_generator(name, k, preset)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        gen(torch.rand(1, 3, size, size), torch.rand(1, k, size, size))
    return counter.get_total_flops()


def train_once(name, preset, batch, steps, device, progress=False):
    """One epoch of ``steps`` batches through ``gan.train``; returns its history row."""
    with tempfile.TemporaryDirectory() as tmp:
        config = xg.gan.TrainConfig(out_dir=tmp, generator=name, preset=preset, epochs=1,
                                    batch_size=batch, device=device, progress=progress)
        result = xg.gan.train(RandomStore(batch * steps), RandomStore(1), config)
    return result.history.iloc[0]


def training_flops_per_image(name, preset, batch):
    """FLOPs of one training step (G and D, forward and backward) per image: a one-batch
    run counted whole, less the one-image validation forward it ends with."""
    with FlopCounterMode(display=False) as counter:
        train_once(name, preset, batch, 1, "cpu")
    return (counter.get_total_flops() - generator_flops(name, preset)) / batch


def peak_flops():
    name = torch.cuda.get_device_name()
    for key, tflops in PEAK_BF16_TFLOPS.items():
        if key in name:
            return tflops * 1e12
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", nargs="+", default=xg.gan.available())
    parser.add_argument("--presets", nargs="+", default=["tiny", "paper"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4, help="timed training steps")
    parser.add_argument("--device", default=None, help="default: CUDA if any")
    parser.add_argument("--checkpoint", default=None, help="a trained generator (best.pt)")
    parser.add_argument("--cost-generator", default="msft",
                        help="architecture of the stand-in generator without --checkpoint")
    parser.add_argument("--model", default="vgg")
    parser.add_argument("--run-dir", default="runs/zoo/shapes")
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--map-sizes", nargs="+", type=int, default=[64, 32])
    args = parser.parse_args()
    device = xg.devices.resolve_device(args.device)
    cuda = device.type == "cuda"
    peak = peak_flops() if cuda else None
    print(f"torch {torch.__version__}, {device}"
          + (f" ({torch.cuda.get_device_name()}, bf16 + channels_last)" if cuda
             else f", {torch.get_num_threads()} threads, fp32"))

    if not args.skip_training:
        print("\n| generator | preset | GFLOPs / image (forward) | GFLOPs / training image | "
              "training images/s |" + (" MFU |" if peak else "")
              + "\n|---|---|---|---|---|" + ("---|" if peak else ""))
        for name in args.generators:
            for preset in args.presets:
                forward = generator_flops(name, preset)
                per_train = training_flops_per_image(name, preset, args.batch)
                train_once(name, preset, args.batch, 1, device)  # warm-up
                row = train_once(name, preset, args.batch, args.steps, device)
                rate = row["batches"] * args.batch / row["seconds"]
                mfu = f" {per_train * rate / peak:.1%} |" if peak else ""
                print(f"| {name} | {preset} | {forward / 1e9:.2f} | {per_train / 1e9:.2f} | "
                      f"{rate:.1f} |{mfu}", flush=True)

    model, images, masks = load_test_batch(args.run_dir, args.model, args.n)
    if args.checkpoint:
        gan = xg.gan.GANExplainer.from_checkpoint(args.checkpoint)
    else:
        gan = xg.gan.GANExplainer(
            generator=xg.gan.build_generator(args.cost_generator, 8, "tiny"), k=8,
            map_size=images.shape[-1])
    named = {"gan": gan, **{m: xg.explainers.get(m) for m in ("gradcam", "sise", "scorecam",
                                                               "gfi")}}
    rows = cost_table(model, images, masks, named)
    print(f"\nexplanation cost: {args.model} on {args.n} shapes test images, CPU, "
          f"{torch.get_num_threads()} threads")
    print_cost_table(rows, masks)
    ms = {r["method"]: r["ms"] for r in rows}
    print("gan is " + ", ".join(f"{ms[m] / ms['gan']:.1f}x cheaper than {m}"
                                for m in ("sise", "scorecam", "gfi"))
          + f"; {ms['gan'] / ms['gradcam']:.1f}x the cost of gradcam")
    where_time_goes(model, images, args.map_sizes, args.cost_generator)


def best_ms(call, images, repeats=5) -> float:
    """Fastest of ``repeats`` timed calls (after one untimed), ms per image."""
    def synchronize():
        if images.is_cuda:
            torch.cuda.synchronize()
    call()
    times = []
    for _ in range(repeats):
        synchronize()
        tic = time.perf_counter()
        call()
        synchronize()
        times.append(time.perf_counter() - tic)
    return min(times) * 1000 / len(images)


def where_time_goes(model, images, map_sizes, generator_name):
    """The GAN explainer's parts at each map size, timed side by side with Grad-CAM."""
    from xai_gan.representation import cumulative_maps, layer_gradcams

    images = images.to(xg.devices.model_device(model))
    gradcam = xg.explainers.get("gradcam")
    reference = best_ms(lambda: gradcam(model, images), images)
    print(f"\nwhere the GAN's time goes ({generator_name} tiny, k = 8, {len(images)} images of "
          f"{images.shape[-1]} px; best of 5; Grad-CAM {reference:.2f} ms / image)")
    print("| map size | representation ms | generator ms | whole explainer ms | x Grad-CAM |\n"
          "|---|---|---|---|---|")
    for size in [s for s in map_sizes if s <= images.shape[-1]]:
        generator = xg.gan.build_generator(generator_name, 8, "tiny").eval().to(images.device)
        gan = xg.gan.GANExplainer(generator=generator, k=8, map_size=size)
        conditions = cumulative_maps(layer_gradcams(model, images, size=size), 8)
        small = xg.maps.resize(images, size)
        representation = best_ms(lambda: cumulative_maps(
            layer_gradcams(model, images, size=size), 8), images)
        with torch.no_grad():
            drawing = best_ms(lambda: generator(small, conditions), images)
        whole = best_ms(lambda: gan(model, images), images)
        print(f"| {size} | {representation:.2f} | {drawing:.2f} | {whole:.2f} | "
              f"{whole / reference:.1f} |", flush=True)


if __name__ == "__main__":
    main()
