"""value_and_grad against analytic NumPy gradients and central finite differences, on the active backend."""

import keras
import numpy as np
import pytest
from keras import ops

import course_lib as cl
from course_lib.autodiff import value_and_grad


def to_np(t):
    if isinstance(t, keras.Variable):
        return np.asarray(t.numpy(), dtype=np.float64)   # torch variables need detaching first
    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


def test_input_gradient_matches_analytic():
    x = np.linspace(-2, 2, 12, dtype="float32").reshape(3, 4)
    value, grad = value_and_grad(lambda t: ops.sum(ops.sin(t) * t), x)
    np.testing.assert_allclose(to_np(value), np.sum(np.sin(x) * x), rtol=1e-5)
    np.testing.assert_allclose(to_np(grad), np.cos(x) * x + np.sin(x), rtol=1e-5, atol=1e-6)


def central_differences(f, x, eps=1e-2):
    x = x.astype(np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up.astype("float32")) - f(down.astype("float32"))) / (2 * eps)
    return grad


def test_input_gradient_of_a_model_matches_finite_differences():
    cl.setup(seed=0, profile="smoke", quiet=True)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6, activation="tanh"), keras.layers.Dense(3)])
    x = np.random.default_rng(0).normal(size=(2, 5)).astype("float32")
    loss = lambda t: ops.sum(model(t)[:, 1])
    _, grad = value_and_grad(loss, x)
    numeric = central_differences(lambda t: float(to_np(loss(t))), x)
    np.testing.assert_allclose(to_np(grad), numeric, rtol=2e-2, atol=2e-3)


def test_weight_gradients_of_dense_mse_match_numpy():
    cl.setup(seed=1, profile="smoke", quiet=True)
    layer = keras.layers.Dense(3)
    x = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    y = np.random.default_rng(2).normal(size=(8, 3)).astype("float32")
    layer.build((None, 4))
    xt, yt = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
    value, (g_kernel, g_bias) = value_and_grad(lambda: ops.mean((layer(xt) - yt) ** 2), variables=[layer.kernel, layer.bias])
    w, b = to_np(layer.kernel), to_np(layer.bias)
    residual = x @ w + b - y
    np.testing.assert_allclose(to_np(value), np.mean(residual ** 2), rtol=1e-5)
    np.testing.assert_allclose(to_np(g_kernel), 2 * x.T @ residual / residual.size, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(to_np(g_bias), 2 * residual.sum(0) / residual.size, rtol=1e-4, atol=1e-6)


def test_weight_gradients_leave_the_weights_alone():
    cl.setup(seed=2, profile="smoke", quiet=True)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    before = [to_np(v) for v in model.trainable_variables]
    value_and_grad(lambda: ops.sum(model(np.ones((1, 2), "float32")) ** 2), variables=model.trainable_variables)
    for a, v in zip(before, model.trainable_variables):
        np.testing.assert_array_equal(a, to_np(v))


def test_non_scalar_function_is_refused():
    with pytest.raises(ValueError, match=r"must return a scalar.*got shape \(3,\).*keras.ops.sum"):
        value_and_grad(lambda t: t * 2, np.ones(3, "float32"))


@pytest.mark.parametrize("kwargs,match", [
    (dict(), "give exactly one of x"),
    (dict(x=np.ones(2, "float32"), variables=[]), "give exactly one of x"),
    (dict(variables=[np.ones(2)]), "non-empty list of keras.Variable"),
    (dict(x=np.ones(2, "int32")), "floating-point tensor"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        value_and_grad(lambda *a: ops.sum(a[0]) if a else 0.0, **kwargs)
