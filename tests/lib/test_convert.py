import keras
import numpy as np
import pytest

import course_lib as cl
from course_lib import models


def small_classifier():
    cl.setup(seed=0, profile="smoke", quiet=True)
    return keras.Sequential([
        keras.Input((12, 12, 2)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(6, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(3, activation="softmax"),
    ])


def test_fully_convolutional_copy_gives_identical_outputs():
    model = small_classifier()
    conv = models.fc_to_conv(model)
    x = np.random.default_rng(0).normal(size=(4, 12, 12, 2)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(conv(x))[:, 0, 0, :],
                               keras.ops.convert_to_numpy(model(x)), rtol=1e-5, atol=1e-6)
    assert conv.count_params() == model.count_params()


def test_larger_image_gives_a_map_of_answers_that_match_crops():
    model = small_classifier()
    conv = models.fc_to_conv(model)
    big = np.random.default_rng(1).normal(size=(1, 16, 16, 2)).astype("float32")
    out = keras.ops.convert_to_numpy(conv(big))
    assert out.shape == (1, 3, 3, 3)            # (16 - 12) / 2 + 1 positions per side (stride 2 of the pool)
    for i in range(3):
        for j in range(3):
            crop = big[:, 2 * i:2 * i + 12, 2 * j:2 * j + 12]
            np.testing.assert_allclose(out[0, i, j], keras.ops.convert_to_numpy(model(crop))[0], rtol=1e-4, atol=1e-5)


def test_unsupported_layer_is_named():
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.LayerNormalization(),
                              keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="cannot convert layer .* LayerNormalization"):
        models.fc_to_conv(model)


def test_receptive_fields_by_hand():
    model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Conv2D(1, 3, padding="same", name="a"),
                              keras.layers.Conv2D(1, 3, padding="same", name="b"), keras.layers.MaxPooling2D(2, name="p"),
                              keras.layers.Conv2D(1, 3, dilation_rate=2, padding="same", name="d")])
    rows = {r.layer: r for r in models.receptive_fields(model)}
    assert (rows["a"].size, rows["b"].size) == (3, 5)       # two 3x3 see as far as one 5x5
    assert (rows["p"].size, rows["p"].jump) == (6, 2)
    assert rows["d"].size == 6 + (5 - 1) * 2                # a dilated 3x3 spans 5 pixels of its input


def test_lenet5_receptive_field_of_c5_is_the_whole_input():
    rows = models.receptive_fields(models.lenet5())
    assert rows[-1].layer == "C5" and rows[-1].size == 32


def _measured_field(model, size):
    """Rows and columns of the input that reach the centre output unit (all-positive kernels, no ReLU)."""
    from course_lib.autodiff import value_and_grad

    for layer in model.layers:
        layer.set_weights([np.ones_like(w) for w in layer.get_weights()])
    x = np.zeros((1, size, size, 1), "float32")
    out_shape = model(x).shape
    i, j = out_shape[1] // 2, out_shape[2] // 2
    _, grad = value_and_grad(lambda t: keras.ops.sum(model(t)[0, i, j]), x)
    grad = np.abs(keras.ops.convert_to_numpy(grad))[0, ..., 0]
    return int((grad.sum(axis=1) > 0).sum()), int((grad.sum(axis=0) > 0).sum())


def test_receptive_fields_follow_rows_and_columns_of_1xn_kernels():
    model = keras.Sequential([keras.Input((33, 33, 1)), keras.layers.Conv2D(1, (1, 3), padding="same", name="w"),
                              keras.layers.Conv2D(1, (3, 1), strides=(2, 1), padding="same", name="h"),
                              keras.layers.Conv2D(1, (1, 5), dilation_rate=(1, 2), padding="same", name="d")])
    rows = {r.layer: r for r in models.receptive_fields(model)}
    assert (rows["w"].size, rows["w"].size_w) == (1, 3)
    assert (rows["h"].size, rows["h"].size_w, rows["h"].jump, rows["h"].jump_w) == (3, 3, 2, 1)
    assert (rows["d"].size, rows["d"].size_w) == (3, 3 + 8)
    assert _measured_field(model, 33) == (rows["d"].size, rows["d"].size_w)
