"""xai_gan: explain CNN predictions with a conditional GAN over the CNN's layer-wise Grad-CAMs.

Modules import one way, each only from those listed before it: data and models (``zoo``,
``efficientnet``, ``devices``, ``inputs``, ``scoped``, ``layers``, ``backbones``, ``data``,
``classifiers``), the representation (``representation``), the explainers, the store, the GAN,
the metrics, then ``interpret``, ``pipeline``, ``studies``, ``job``, ``report``, ``explain`` and
``cli``.
"""
from . import (backbones, claims, classifiers, data, devices, explain, explainers, gan, inputs,
               interpret, job, layers, maps, metrics, pipeline, plotting, profiles, report,
               representation, scoped, store, studies, widgets, workers)
from .config import RunConfig

__version__ = "0.1.0"
__all__ = ["RunConfig", "backbones", "claims", "classifiers", "data", "devices", "explain",
           "explainers", "gan", "inputs", "interpret", "job", "layers", "maps", "metrics",
           "pipeline", "plotting", "profiles", "report", "representation", "scoped", "store", "studies",
           "widgets", "workers", "__version__"]
