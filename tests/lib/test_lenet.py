"""LeNet-5's layers against NumPy, and its parameter table against the paper."""

import keras
import numpy as np
import pytest

import course_lib as cl
from course_lib.layers import C3_TABLE


def np_conv_valid(x, w, b):
    """Plain NumPy 'valid' cross-correlation: x (N,H,W,C), w (k,k,C,F), b (F,)."""
    k = w.shape[0]
    n, h, wd, _ = x.shape
    out = np.zeros((n, h - k + 1, wd - k + 1, w.shape[-1]))
    for i in range(h - k + 1):
        for j in range(wd - k + 1):
            out[:, i, j, :] = np.tensordot(x[:, i:i + k, j:j + k, :], w, axes=([1, 2, 3], [0, 1, 2]))
    return out + b


def to_np(t):
    return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)


def test_c3_table_has_the_papers_structure():
    sizes = [len(r) for r in C3_TABLE]
    assert sizes == [3] * 6 + [4] * 9 + [6]
    assert len(set(C3_TABLE)) == 16


def test_c3_equals_a_masked_full_convolution():
    cl.setup(seed=0, profile="smoke", quiet=True)
    layer = cl.layers.LeNetC3()
    x = np.random.default_rng(0).normal(size=(2, 14, 14, 6)).astype("float32")
    out = to_np(layer(x))
    full = np.zeros((5, 5, 6, 16))
    for j, (row, kernel) in enumerate(zip(C3_TABLE, layer.kernels)):
        full[:, :, list(row), j] = to_np(kernel)[..., 0]
    np.testing.assert_allclose(out, np_conv_valid(x, full, to_np(layer.bias)), rtol=1e-4, atol=1e-4)
    assert layer.count_params() == 1516


def test_trainable_subsampling_matches_numpy():
    layer = cl.layers.TrainableSubsampling(2)
    x = np.random.default_rng(1).normal(size=(2, 4, 6, 3)).astype("float32")
    layer.build(x.shape)
    layer.coef.assign(np.array([1.0, -2.0, 0.5], "float32"))
    layer.bias.assign(np.array([0.0, 1.0, -1.0], "float32"))
    sums = x.reshape(2, 2, 2, 3, 2, 3).sum(axis=(2, 4))
    np.testing.assert_allclose(to_np(layer(x)), sums * [1.0, -2.0, 0.5] + [0.0, 1.0, -1.0], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="divisible by pool_size=2, got 5x6"):
        cl.layers.TrainableSubsampling(2)(np.zeros((1, 5, 6, 1), "float32"))


def test_rbf_output_is_negative_squared_distance():
    layer = cl.layers.RBFOutput(3, seed=1)
    x = np.random.default_rng(2).normal(size=(4, 5)).astype("float32")
    out = to_np(layer(x))
    protos = to_np(layer.prototypes)
    expected = -((x[:, :, None] - protos[None]) ** 2).sum(1)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert set(np.unique(protos)) == {-1.0, 1.0} and not layer.trainable_weights


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_lp_pooling_matches_numpy(p):
    x = np.random.default_rng(3).normal(size=(1, 4, 4, 2)).astype("float32")
    out = to_np(cl.layers.LpPooling(p=p, pool_size=2)(x))
    windows = np.abs(x).reshape(1, 2, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4, 5).reshape(1, 2, 2, 4, 2)
    np.testing.assert_allclose(out, np.mean(windows ** p, axis=3) ** (1 / p), rtol=1e-4)


def test_lp_pooling_approaches_max_pooling():
    x = np.random.default_rng(4).uniform(0.1, 1, size=(1, 4, 4, 1)).astype("float32")
    lp = to_np(cl.layers.LpPooling(p=60.0)(x))
    mx = to_np(keras.layers.MaxPooling2D()(x))
    np.testing.assert_allclose(lp, mx, rtol=0.05)
    with pytest.raises(ValueError, match="p must be at least 1"):
        cl.layers.LpPooling(p=0.5)


def test_lenet5_parameters_match_the_paper_layer_by_layer():
    model = cl.models.lenet5()
    counts = {row.name: row.params for row in cl.models.summary_table(model) if row.params}
    assert counts == cl.models.LENET5_PARAMETERS
    assert model.count_params() == 60_840


def test_lenet5_macs_by_hand():
    rows = {r.name: r for r in cl.models.summary_table(cl.models.lenet5())}
    assert rows["C1"].macs == 28 * 28 * 6 * 5 * 5 * 1
    assert rows["C3"].macs == 10 * 10 * sum(len(r) for r in C3_TABLE) * 25
    assert rows["C5"].macs == 120 * 400 and rows["F6"].macs == 84 * 120


def test_lenet5_forward_and_round_trip(tmp_path):
    cl.setup(seed=0, profile="smoke", quiet=True)
    model = cl.models.lenet5(input_shape=(28, 28, 1))
    x = np.random.default_rng(5).uniform(size=(2, 28, 28, 1)).astype("float32")
    model.save(tmp_path / "lenet.keras")
    loaded = keras.saving.load_model(tmp_path / "lenet.keras")
    np.testing.assert_allclose(to_np(loaded(x)), to_np(model(x)), rtol=1e-5, atol=1e-5)
    assert to_np(model(x)).shape == (2, 10)


def test_lenet5_bad_input_shape():
    with pytest.raises(ValueError, match=r"32x32 \(or 28x28, padded\) inputs, got \(64, 64, 1\)"):
        cl.models.lenet5(input_shape=(64, 64, 1))
