import keras
import numpy as np
import pytest

import course_lib as cl


def test_maxout_matches_numpy():
    cl.setup(seed=0, profile="smoke", quiet=True)
    layer = cl.layers.Maxout(3, pieces=4)
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(x))
    kernel, bias = [keras.ops.convert_to_numpy(w) for w in layer.dense.weights]
    expected = (x @ kernel + bias).reshape(5, 3, 4).max(-1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert layer.count_params() == 6 * 12 + 12


def test_scaled_tanh_matches_lecun_constants():
    x = np.linspace(-3, 3, 13).astype("float32")
    out = keras.ops.convert_to_numpy(cl.layers.ScaledTanh()(x))
    np.testing.assert_allclose(out, 1.7159 * np.tanh(2 * x / 3), rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cl.layers.ScaledTanh()(np.float32([1.0]))), [1.0], atol=2e-4)


@pytest.mark.parametrize("layer", [lambda: cl.layers.Maxout(4, 3), lambda: cl.layers.ScaledTanh(a=2.0, b=0.5)])
def test_layers_round_trip_through_saving(tmp_path, layer):
    cl.setup(seed=0, profile="smoke", quiet=True)
    model = keras.Sequential([keras.Input((6,)), layer(), keras.layers.Dense(2)])
    x = np.random.default_rng(1).normal(size=(3, 6)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6)
    assert loaded.layers[0].get_config() == model.layers[0].get_config()


def test_maxout_bad_arguments():
    with pytest.raises(ValueError, match="units must be at least 1, got 0"):
        cl.layers.Maxout(0)
    with pytest.raises(ValueError, match="pieces must be at least 1, got 0"):
        cl.layers.Maxout(2, pieces=0)
    with pytest.raises(ValueError, match=r"\(batch, features\).*Flatten"):
        cl.layers.Maxout(2)(np.zeros((2, 3, 4), "float32"))
