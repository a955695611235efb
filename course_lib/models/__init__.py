"""Model builders: functions returning a `keras.Model`, one small module per family."""

from course_lib.models.mlp import mlp
from course_lib.models.small_cnn import small_cnn

__all__ = ["mlp", "small_cnn"]
