"""The NumPy recurrent cells against Keras' layers, and BPTT against numerical gradients."""

import keras
import numpy as np
import pytest

import course_lib as cl
from course_lib import recurrent


@pytest.fixture(autouse=True)
def _setup():
    cl.setup(seed=0, profile="smoke", quiet=True)


X = np.random.default_rng(0).normal(size=(3, 6, 4))


@pytest.mark.parametrize("layer_class,forward", [
    (keras.layers.SimpleRNN, lambda x, p: recurrent.rnn_forward(x, **p)[0]),
    (keras.layers.LSTM, lambda x, p: recurrent.lstm_forward(x, **p)[0]),
    (keras.layers.GRU, lambda x, p: recurrent.gru_forward(x, **p)),
])
def test_numpy_cells_equal_keras_layers(layer_class, forward):
    layer = layer_class(5, return_sequences=True)
    keras_out = keras.ops.convert_to_numpy(layer(X.astype("float32")))
    params = recurrent.from_keras(layer)
    np.testing.assert_allclose(forward(X, params), keras_out, atol=1e-5)


@pytest.mark.parametrize("kind,layer_class", [("simple_rnn", keras.layers.SimpleRNN), ("lstm", keras.layers.LSTM),
                                              ("gru", keras.layers.GRU)])
def test_to_keras_then_from_keras_round_trips(kind, layer_class):
    layer = layer_class(3)
    layer.build((None, 6, 4))
    params = recurrent.init_params(kind, 4, 3, rng=1)
    recurrent.to_keras(layer, params)
    back = recurrent.from_keras(layer)
    assert set(back) == set(params)
    for k in params:
        np.testing.assert_allclose(back[k], params[k], atol=1e-6)


def test_lstm_gates_follow_the_equations():
    p = recurrent.init_params("lstm", 4, 5, rng=2)
    h, c, gates = recurrent.lstm_forward(X, **p, return_gates=True)
    np.testing.assert_allclose(gates["c"][:, 1], gates["f"][:, 1] * gates["c"][:, 0] + gates["i"][:, 1] * gates["g"][:, 1])
    np.testing.assert_allclose(h, gates["o"] * np.tanh(gates["c"]))
    np.testing.assert_allclose(c, gates["c"][:, -1])


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "linear"])
def test_bptt_matches_numerical_gradients(activation):
    p = recurrent.init_params("simple_rnn", 4, 5, rng=3, scale=0.5)
    x = X.copy()
    h0 = np.random.default_rng(4).normal(size=(3, 5))
    target = np.random.default_rng(5).normal(size=(3, 6, 5))
    params = {**p, "x": x, "h0": h0}

    def loss(q):
        h, _ = recurrent.rnn_forward(q["x"], q["W_i"], q["W_r"], q["b"], h0=q["h0"], activation=activation)
        return 0.5 * np.sum((h - target) ** 2)

    h, cache = recurrent.rnn_forward(x, p["W_i"], p["W_r"], p["b"], h0=h0, activation=activation)
    grads = recurrent.rnn_backward(h - target, cache)
    report = cl.numerics.gradient_check(loss, params, {k: grads[k] for k in params})
    assert report.passed(1e-5), str(report)


def test_bptt_state_gradients_are_the_jacobian_products():
    p = recurrent.init_params("simple_rnn", 4, 5, rng=6)
    h, cache = recurrent.rnn_forward(X, **p)
    dh = np.zeros_like(h)
    dh[:, -1] = 1.0
    g = recurrent.rnn_backward(dh, cache)["h"]
    # dL/dh_t = dL/dh_{t+1} · diag(1 - h_{t+1}^2) · W_r
    for t in range(5):
        np.testing.assert_allclose(g[:, t], (g[:, t + 1] * (1 - h[:, t + 1] ** 2)) @ p["W_r"], atol=1e-12)
    np.testing.assert_allclose(g[:, -1], 1.0)


@pytest.mark.parametrize("cell_class", [keras.layers.SimpleRNNCell])
def test_state_gradient_norms_agree_with_numpy_bptt(cell_class):
    cell = cell_class(5)
    cell.build((None, 4))
    p = recurrent.from_keras(cell)
    u = np.random.default_rng(7).normal(size=(3, 5))
    h, cache = recurrent.rnn_forward(X, **p)
    dh = np.zeros_like(h)
    dh[:, -1] = u
    expected = np.linalg.norm(recurrent.rnn_backward(dh, cache)["h"], axis=-1)
    np.testing.assert_allclose(recurrent.state_gradient_norms(cell, X, u=u), expected, rtol=1e-4)


def test_state_gradient_norms_of_an_lstm_include_the_cell_state():
    cell = keras.layers.LSTMCell(4)
    cell.build((None, 4))
    norms = recurrent.state_gradient_norms(cell, X)
    assert norms.shape == (3, 6)
    np.testing.assert_allclose(norms[:, -1], 1.0, rtol=1e-5)    # ‖u‖ at T − t = 0
    assert np.all(norms[:, :-1] > 0)


def test_clip_by_global_norm_keeps_the_direction():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    clipped, norm = recurrent.clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_allclose(clipped["b"], [[0.8]])
    same, _ = recurrent.clip_by_global_norm(grads, 10.0)
    np.testing.assert_allclose(same["a"], grads["a"])
    with pytest.raises(ValueError, match="max_norm must be positive, got 0"):
        recurrent.clip_by_global_norm(grads, 0)


def test_spectral_radius_rescaling():
    m = np.random.default_rng(8).normal(size=(6, 6))
    assert recurrent.spectral_radius(recurrent.with_spectral_radius(m, 0.9)) == pytest.approx(0.9)


def test_bad_inputs_are_named():
    p = recurrent.init_params("simple_rnn", 4, 5)
    with pytest.raises(ValueError, match=r"\(batch, T, N\), got shape \(6, 4\)"):
        recurrent.rnn_forward(X[0], **p)
    with pytest.raises(ValueError, match="3 features per step but W_i expects N=4"):
        recurrent.rnn_forward(X[..., :3], **p)
    with pytest.raises(ValueError, match="activation must be one of .* got 'softsign'"):
        recurrent.rnn_forward(X, **p, activation="softsign")
    with pytest.raises(ValueError, match=r"an LSTM needs W_i \(4M, N\)"):
        recurrent.lstm_forward(X, **p)
    with pytest.raises(ValueError, match="expected a Keras SimpleRNN, LSTM or GRU"):
        recurrent.from_keras(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="kind must be one of"):
        recurrent.init_params("rnn", 4, 5)


def test_run_free_feeds_back_its_own_predictions():
    """A 'model' that predicts the mean of the window: run free from [1, 2, 3] it gives 2, 7/3, 22/9, ..."""
    inputs = keras.Input((3, 1))
    model = keras.Model(inputs, keras.ops.mean(inputs, axis=1))
    out = recurrent.run_free(model, np.array([[[1.0], [2.0], [3.0]]]), steps=3)
    np.testing.assert_allclose(out[0, :, 0], [2.0, 7 / 3, 22 / 9], rtol=1e-6)
    with pytest.raises(ValueError, match=r"prompt must be \(batch, L, F\), got shape \(1, 3\)"):
        recurrent.run_free(model, np.zeros((1, 3)), steps=1)
