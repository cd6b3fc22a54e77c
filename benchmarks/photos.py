"""Every explainer on the offline ImageNet EfficientNet-Lite0, on the bundled real photos.

Prints the CNN's top-1 and top-5 on the photos, then per method: milliseconds per image at
the photos' size on this machine, and the pointing game and energy-based pointing game
against the photos' hand-drawn boxes (mean and 95 % interval over the photos), beside the
``random`` and ``centre`` references; then each photo's energy-based pointing game. Each map
explains the photo's labelled class (``cup`` and ``Windsor tie`` are second objects in photos
whose top class is another).

With ``--gan best.pt`` a trained generator joins the table as ``gan`` (a transfer test: it
explains a CNN it was not trained on), and its cost is set beside Grad-CAM's twice, best of
``--repeats`` timings on all the photos as one batch: both asked for the labelled class, and
both asked for the predicted one (Grad-CAM then runs one more forward to find it; the GAN's
all-layer pass finds it in its own forward).

    python benchmarks/photos.py [--size 224] [--methods gradcam lrp ...] [--csv out.csv]
                                [--gan runs/.../best.pt] [--repeats 5]
"""
import argparse

import pandas as pd
import torch

import xai_gan as xg


def accuracy(model, photos) -> dict:
    images = torch.stack([photos[i]["image"] for i in range(len(photos))])
    labels = torch.tensor(photos.labels)
    top5 = xg.classifiers.predict(model, images).topk(5, 1).indices
    return {"top1": (top5[:, 0] == labels).float().mean().item(),
            "top5": (top5 == labels[:, None]).any(1).float().mean().item(), "n": len(labels)}


def markdown(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join([frame.index.name or "", *map(str, frame.columns)]) + " |",
             "|---" * (len(frame.columns) + 1) + "|"]
    lines += ["| " + " | ".join([str(i), *map(str, row)]) + " |"
              for i, row in zip(frame.index, frame.values)]
    return "\n".join(lines)


def cost_ratios(model, photos, gan, repeats: int) -> None:
    """The GAN's ms per image against Grad-CAM's, labelled and predicted class."""
    images = torch.stack([photos[i]["image"] for i in range(len(photos))])
    labels = torch.tensor(photos.labels)
    gradcam = xg.explainers.get("gradcam")
    for what, targets in (("labelled class", labels), ("predicted class", None)):
        ms = {name: min(xg.metrics.cost.ms_per_image(e, model, images, targets)
                        for _ in range(repeats)) for name, e in (("gan", gan),
                                                                 ("gradcam", gradcam))}
        print(f"{what}: gan {ms['gan']:.0f} ms, gradcam {ms['gradcam']:.0f} ms per image "
              f"-> gan / gradcam = {ms['gan'] / ms['gradcam']:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--methods", nargs="+",  # Score-CAM, SISE, GFI: asked for by name
                        default=xg.explainers.quick() + ["random", "centre"])
    parser.add_argument("--csv", help="write the per-photo table here")
    parser.add_argument("--gan", help="a trained generator checkpoint (best.pt) to add")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = xg.classifiers.build("efficientnet_lite0", 1000, weights="imagenet")
    photos = xg.data.load("photos", image_size=args.size)
    acc = accuracy(model, photos)
    print(f"EfficientNet-Lite0 (ImageNet, offline) on {acc['n']} photos at {args.size} px: "
          f"top-1 {acc['top1']:.0%}, top-5 {acc['top5']:.0%}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    methods = {m: xg.explainers.get(m) for m in args.methods}
    if args.gan:
        methods["gan"] = xg.explainers.get("gan", checkpoint=args.gan)
        cost_ratios(model, photos, methods["gan"], args.repeats)
    table = xg.metrics.evaluate(model, photos, methods, batch_size=len(photos),
                                classes="label", metrics=["pointing_game",
                                                          "energy_pointing_game",
                                                          "ms_per_image"]
                                + (["pearson"] if args.gan else []),
                                teacher="gradcam" if args.gan else None, progress=False)
    table["photo"] = table["image"].map(dict(enumerate(photos.names)))
    if args.csv:
        table.to_csv(args.csv, index=False)
    summary = xg.metrics.intervals(table)
    summary["text"] = [f"{m:.3g} ± {h:.2g}" for m, h in zip(summary["mean"],
                                                            summary["half_width"])]
    wide = summary.pivot(index="method", columns="metric", values="text")
    order = summary[summary.metric == "energy_pointing_game"].sort_values("mean").method[::-1]
    print("\nmean over the photos (95 % interval)\n" + markdown(wide.loc[list(order)]))
    per_photo = table[table.metric == "energy_pointing_game"].pivot(
        index="photo", columns="method", values="value").loc[photos.names]
    print("\nenergy-based pointing game per photo\n"
          + markdown(per_photo[list(order)].round(2)))


if __name__ == "__main__":
    main()
