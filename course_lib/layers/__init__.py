"""Custom Keras layers of the course (keras.ops only, every backend)."""

from course_lib.layers.activations import Maxout, ScaledTanh
from course_lib.layers.inception import DenseBlock, InceptionModule
from course_lib.layers.lenet import C3_TABLE, LeNetC3, RBFOutput, TrainableSubsampling
from course_lib.layers.pooling import LpPooling
from course_lib.layers.residual import ResidualBlock, SqueezeExcite
from course_lib.layers.attention import BahdanauAttention
from course_lib.layers.coordinates import AddCoordinates

__all__ = ["Maxout", "ScaledTanh", "LeNetC3", "RBFOutput", "TrainableSubsampling", "C3_TABLE", "LpPooling", "ResidualBlock", "SqueezeExcite", "InceptionModule", "DenseBlock"]
__all__ += ["BahdanauAttention", "AddCoordinates"]
