"""What a CNN sees when pixels are removed: the object, or everything but the object.

The faithfulness metrics replace removed pixels with a blurred copy (deletion, insertion) or
by noisy interpolation (ROAD); SISE and Score-CAM score masked images against zero. Whether
those agree depends on what the CNN makes of each: on the first ``--n`` held-out test images
of each CNN of ``gan_worth.py``'s run folder, the mean probability of the predicted class for
the image as it is, then with the object (the shape's mask), the background or the whole
image replaced by each baseline (``blur``, ``zero``, ``mean``).

    python benchmarks/removal_baselines.py [--models vgg resnet] [--n 100]
                                           [--run-dir runs/gan-worth-32]
"""
import pandas as pd
import torch
from torch.utils.data import default_collate

import xai_gan as xg
from gan_worth import arguments, setup
from xai_gan.metrics.faithfulness import BASELINES, baseline_images, class_probability


def main():
    args = arguments(__doc__)
    base, splits = setup(args)
    batch = default_collate([splits["test"][i] for i in range(args.n)])
    images, inside = batch["image"], batch["mask"].float().reshape(args.n, 1, *batch[
        "image"].shape[-2:])
    rows = []
    for model_name in args.models:
        model = xg.pipeline.load_classifier(base, model_name).eval()
        with torch.no_grad():
            classes = model(images).argmax(1)
        row = {"model": model_name,
               "image": class_probability(model, images, classes).mean().item()}
        for baseline in BASELINES:
            removed = baseline_images(images, baseline)
            for name, keep in (("object", 1 - inside), ("background", inside),
                               ("everything", torch.zeros_like(inside))):
                shown = images * keep + removed * (1 - keep)
                row[f"{name} -> {baseline}"] = class_probability(model, shown, classes).mean().item()
        rows.append(row)
    table = pd.DataFrame(rows).set_index("model").T.round(3)
    print(f"Mean probability of the predicted class, {args.n} held-out test images; "
          "'object -> zero': the shape's pixels set to 0\n" + table.to_string())


if __name__ == "__main__":
    main()
