"""Custom Keras layers of the course (keras.ops only, every backend)."""

from course_lib.layers.activations import Maxout, ScaledTanh

__all__ = ["Maxout", "ScaledTanh"]
