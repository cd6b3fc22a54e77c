"""xai_gan: explain CNN predictions with a conditional GAN over the CNN's layer-wise Grad-CAMs."""
from . import classifiers, data, plotting, profiles

__version__ = "0.1.0"
__all__ = ["classifiers", "data", "plotting", "profiles", "__version__"]
