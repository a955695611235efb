"""LeNet-5 as published (LeCun et al., 1998), layer by layer."""

from __future__ import annotations

import keras
from keras import layers

from course_lib.layers import LeNetC3, RBFOutput, ScaledTanh, TrainableSubsampling
from course_lib.models._common import model_inputs

# Trainable parameters per layer in the paper (the output layer's 840 prototypes are fixed).
PAPER_PARAMETERS = {"C1": 156, "S2": 12, "C3": 1516, "S4": 32, "C5": 48120, "F6": 10164, "output": 840}


def lenet5(input_shape=(32, 32, 1), num_classes: int = 10, rbf_output: bool = True,
           rescale: float | None = None, name: str = "lenet5") -> keras.Model:
    """LeNet-5: C1 conv 6@5x5, S2 subsampling, C3 partial conv 16@5x5, S4, C5 conv 120@5x5, F6 84, output.

    Every squashing function is LeCun's scaled tanh 1.7159 tanh(2a/3). Layers are named as in
    the paper. 28x28 inputs (MNIST-style) are padded to 32x32 first, as the paper did.

    Args:
        input_shape: ``(32, 32, 1)`` or ``(28, 28, 1)``.
        num_classes: outputs.
        rbf_output: the paper's Euclidean RBF output (negative distances; fixed ±1 prototypes);
            ``False`` for a Dense softmax output instead.
        rescale: multiply the inputs by this first; ``None`` (the default) for inputs in [0, 1].

    Output shape: ``(batch, num_classes)``: negative distances (``rbf_output``) or probabilities.
    """
    if tuple(input_shape[:2]) not in ((32, 32), (28, 28)):
        raise ValueError(f"LeNet-5 takes 32x32 (or 28x28, padded) inputs, got {tuple(input_shape)}")
    inputs, x = model_inputs(input_shape, rescale)
    x = layers.ZeroPadding2D(2, name="pad")(x) if input_shape[0] == 28 else x
    x = layers.Conv2D(6, 5, name="C1")(x)
    x = ScaledTanh(name="C1_act")(x)
    x = TrainableSubsampling(2, name="S2")(x)
    x = ScaledTanh(name="S2_act")(x)
    x = LeNetC3(5, name="C3")(x)
    x = ScaledTanh(name="C3_act")(x)
    x = TrainableSubsampling(2, name="S4")(x)
    x = ScaledTanh(name="S4_act")(x)
    x = layers.Conv2D(120, 5, name="C5")(x)
    x = ScaledTanh(name="C5_act")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, name="F6")(x)
    x = ScaledTanh(name="F6_act")(x)
    if rbf_output:
        outputs = RBFOutput(num_classes, name="output")(x)
    else:
        outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=name)
