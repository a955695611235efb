"""course_lib: the helper library of the Keras vision course.

    import course_lib as cl
    cfg = cl.setup(seed=0)
    x, y = cl.data.load("fashion_mnist", split="train", limit=1000)

Importing course_lib does not import Keras; `setup()` does, after the backend is chosen
(``KERAS_BACKEND``). The submodules `viz` and `models` load on first use.
"""

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow

from course_lib import data
from course_lib.claims import claim
from course_lib.config import PROFILES, Config, ProfileError, setup

__version__ = "0.1.0"

_LAZY = ("viz", "models", "layers", "callbacks", "training", "zoo", "pretrained", "optim", "schedules", "numerics",
         "autodiff", "storage", "runner", "cli", "recurrent", "decoding", "captioning", "style")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"course_lib.{name}")
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")


__all__ = ["setup", "claim", "Config", "PROFILES", "ProfileError", "data", *_LAZY]
