"""Multilayer perceptrons, deep or shallow, with the knobs of lectures 02-04."""

from __future__ import annotations

import keras
from keras import layers

from course_lib.models._common import check_count, check_fraction, model_inputs


def mlp(input_shape=(28, 28), hidden_units=(256, 128), num_classes: int = 10, activation: str = "relu",
        kernel_initializer="glorot_uniform", batch_norm: bool = False, dropout: float = 0.0,
        kernel_regularizer=None, rescale: float | None = None, name: str = "mlp") -> keras.Model:
    """Flatten, then Dense layers (optionally batch-normalised and with dropout), then softmax.

    Args:
        input_shape: shape of one example; it is flattened.
        hidden_units: widths of the hidden layers, e.g. ``(256,) * 10`` for a deep net.
        num_classes: softmax outputs; ``None`` for no output layer (the last hidden layer is the output).
        activation: a Keras activation name, or a layer factory (a class such as `ScaledTanh`).
        kernel_initializer: a name, a `keras.initializers` object (each layer gets its own copy,
            so layers of the same shape do not start with identical weights), or a function
            ``fan_in -> initializer`` for rules that depend on a layer's inputs (Torch's old U[-1/sqrt(n), 1/sqrt(n)]).
        batch_norm: insert BatchNormalization between each Dense and its activation.
        dropout: dropout rate after each hidden activation.
        kernel_regularizer: e.g. ``keras.regularizers.L2(1e-4)``, for every Dense layer.
        rescale: multiply the inputs by this first (``1/255`` for raw uint8 pixels); ``None``
            (the default) for inputs already in [0, 1], the course's convention.

    Input shape: ``(batch, *input_shape)``. Output shape: ``(batch, num_classes)``.
    Hidden Dense layers are named ``dense_0``, ``dense_1``, ... and activations ``act_0``, ...
    """
    if not hidden_units and num_classes is None:
        raise ValueError("an mlp needs hidden_units or num_classes")
    check_fraction("dropout", dropout)
    for units in hidden_units:
        check_count("hidden_units entries", units)
    inputs, x = model_inputs(input_shape, rescale)
    x = layers.Flatten()(x)
    for i, units in enumerate(hidden_units):
        x = layers.Dense(units, kernel_initializer=_initializer(kernel_initializer, x.shape[-1]),
                         kernel_regularizer=kernel_regularizer,
                         use_bias=not batch_norm, name=f"dense_{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn_{i}")(x)
        if isinstance(activation, str):
            x = layers.Activation(activation, name=f"act_{i}")(x)
        else:
            x = activation(name=f"act_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    if num_classes is not None:
        x = layers.Dense(num_classes, activation="softmax", kernel_initializer=_initializer(kernel_initializer, x.shape[-1]),
                         kernel_regularizer=kernel_regularizer, name="output")(x)
    return keras.Model(inputs, x, name=name)


def _initializer(spec, fan_in: int):
    """A fresh initializer per layer: a name stays a name, an object is copied, a function gets the fan-in."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, keras.initializers.Initializer):
        return spec.__class__.from_config(spec.get_config())
    if callable(spec):
        return spec(int(fan_in))
    raise ValueError(f"kernel_initializer must be a name, a keras initializer or a function of fan_in, got {spec!r}")
