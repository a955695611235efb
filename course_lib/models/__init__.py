"""Model builders: functions returning a `keras.Model`, one small module per family."""

from course_lib.models.lenet import PAPER_PARAMETERS as LENET5_PARAMETERS
from course_lib.models.lenet import lenet5
from course_lib.models.mlp import mlp
from course_lib.models.small_cnn import small_cnn
from course_lib.models.summary import format_table, summary_table

__all__ = ["lenet5", "LENET5_PARAMETERS", "mlp", "small_cnn", "summary_table", "format_table"]
