"""backbone-zoo: package, publish, pull and adapt transferable backbones.

TensorFlow is imported only by the modules that need it; the environment
defaults below keep it quiet whichever of them is imported first.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"

from zoo.errors import ZooError  # noqa: E402

__all__ = ["ZooError", "__version__"]
