"""xai_gan: explain CNN predictions with a conditional GAN over the CNN's layer-wise Grad-CAMs."""
from . import (classifiers, data, explainers, gan, interpret, metrics, pipeline, plotting,
               profiles, report, representation, widgets)

__version__ = "0.1.0"
__all__ = ["classifiers", "data", "explainers", "gan", "interpret", "metrics", "pipeline",
           "plotting", "profiles", "report", "representation", "widgets", "__version__"]
