"""Where the faithful GAN loses insertion to LRP, and what a map could do there.

Run after ``gan_worth.py`` (it reads that run's CNNs and faithful GANs). On the first
``--n`` held-out test images of each CNN:

1. the insertion curve of the faithful GAN, LRP and Grad-CAM at a few fractions of the
   pixels revealed (mean class probability): where along the curve the gap lies;
2. LRP with its map reduced to the GAN's map size and back: what a map of that resolution
   keeps of LRP's pixel order;
3. the objective's reach: each image's map optimised directly on the GAN's training
   objective (:func:`xai_gan.gan.faithfulness_loss`, Adam on the map's logits for
   ``--steps`` steps, from the GAN's own map), at the GAN's map size and at the image size;
   and at the map size with the objective's straight-through hard masks at the curve's
   fractions below (``straight_through=True``: the CNN sees the metric's exact top pixels).
   Not an explainer (it costs ``--steps`` backward passes per image): the objective's
   reach, maps a generator trained on it could aim for (a local optimum, not a bound).

    python benchmarks/insertion_gap.py [--models vgg resnet] [--n 100] [--steps 40]
                                       [--lr 0.05] [--run-dir runs/gan-worth-32]
"""
import pandas as pd
import torch
from torch.utils.data import default_collate
from tqdm.auto import trange

import xai_gan as xg
from gan_worth import arguments, interval, setup
from xai_gan.maps import resize
from xai_gan.metrics.faithfulness import curve_auc, deletion_auc, perturbation_curve

FRACTIONS = (0.05, 0.1, 0.2, 0.3, 0.5)
STEPS = 64  # of the insertion curve, as the metric's


def optimised(model, images, classes, start, size: int, steps: int, lr: float, **objective):
    """``start`` (B, 1, H, W) at ``size``, optimised per image on the faithfulness objective
    (``objective``: options of :func:`xai_gan.gan.faithfulness_loss`), returned at the
    images' size."""
    logits = torch.logit(resize(start, size).clamp(1e-3, 1 - 1e-3)).requires_grad_(True)
    adam = torch.optim.Adam([logits], lr=lr)
    for _ in trange(steps, desc=f"optimising maps at {size} px", leave=False):
        loss = xg.gan.faithfulness_loss(model, images, torch.sigmoid(logits), classes,
                                        saturation_weight=0, input_size=images.shape[-1],
                                        **objective)
        adam.zero_grad()
        loss.backward()
        adam.step()
    return resize(torch.sigmoid(logits).detach(), images.shape[-1])


def main():
    args = arguments(__doc__, steps=40, lr=0.05)
    base, splits = setup(args)
    tables = []
    for model_name in args.models:
        model = xg.pipeline.load_classifier(base, model_name).eval()
        gan = base.replace(models=[model_name]).with_gan(objective="faithful").gan_checkpoint(
            "gan")
        if not gan.exists():
            raise SystemExit(f"no faithful GAN at {gan}: run benchmarks/gan_worth.py first")
        batch = default_collate([splits["test"][i] for i in range(args.n)])
        images = batch["image"]
        with torch.no_grad():
            classes = model(images).argmax(1)
        maps = {name: xg.explainers.get(name)(model, images, classes)[:, None]
                for name in ("gradcam", "lrp")}
        maps["gan"] = xg.gan.GANExplainer.from_checkpoint(gan)(model, images, classes)[:, None]
        maps[f"lrp at {args.map_size} px"] = resize(resize(maps["lrp"], args.map_size),
                                                    images.shape[-1])
        model.requires_grad_(False)  # after the explainers: pytorch-grad-cam's fail on it
        for size in sorted({args.map_size, images.shape[-1]}):
            maps[f"gan, optimised at {size} px"] = optimised(
                model, images, classes, maps["gan"], size, args.steps, args.lr)
        hard = "/".join(f"{f:.0%}" for f in FRACTIONS)
        maps[f"gan, optimised at {args.map_size} px, hard masks at {hard}"] = optimised(
            model, images, classes, maps["gan"], args.map_size, args.steps, args.lr,
            fractions=FRACTIONS, straight_through=True)
        rows = []
        for name, heat in maps.items():
            with torch.no_grad():
                curve = perturbation_curve(model, images, heat, classes, "insertion", STEPS)
                deletion = deletion_auc(model, images, heat, classes, steps=STEPS)
            row = {"model": model_name, "method": name,
                   "insertion_auc": interval(pd.Series(curve_auc(curve).numpy())),
                   "deletion_auc": interval(pd.Series(deletion.numpy()))}
            for f in FRACTIONS:  # the curve's column nearest f
                row[f"p at {f:.0%}"] = f"{curve[:, round(f * STEPS)].mean():.3f}"
            rows.append(row)
        tables.append(pd.DataFrame(rows))
        print(f"\n{model_name}, {args.n} held-out test images (mean ± 95 % half-width)")
        print(tables[-1].drop(columns="model").to_string(index=False), flush=True)
    pd.concat(tables).to_csv(f"{args.run_dir}/insertion_gap.csv", index=False)


if __name__ == "__main__":
    main()
