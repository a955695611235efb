"""Model builders: functions returning a `keras.Model`, one small module per family."""

from course_lib.models.augment import augmentation
from course_lib.models.classic import alexnet, densenet121, googlenet, mobilenet_v1, vgg
from course_lib.models.convblock import convblock_net
from course_lib.models.convert import fc_to_conv, receptive_fields
from course_lib.models.lenet import PAPER_PARAMETERS as LENET5_PARAMETERS
from course_lib.models.lenet import lenet5
from course_lib.models.mlp import mlp
from course_lib.models.resnet import REFERENCE_PARAMETERS as RESNET_PARAMETERS
from course_lib.models.resnet import resnet, resnet_cifar, trainable_parameters
from course_lib.models.small_cnn import small_cnn
from course_lib.models.summary import format_table, summary_table
from course_lib.models.captioner import attention_model, captioner

__all__ = ["augmentation", "alexnet", "vgg", "googlenet", "densenet121", "mobilenet_v1", "lenet5", "convblock_net", "fc_to_conv", "receptive_fields", "LENET5_PARAMETERS", "mlp", "resnet", "resnet_cifar", "RESNET_PARAMETERS", "trainable_parameters", "small_cnn", "summary_table", "format_table"]
__all__ += ["captioner", "attention_model"]
