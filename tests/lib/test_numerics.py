import numpy as np
import pytest

from course_lib import numerics


def test_numerical_gradient_of_known_function():
    x = np.array([[0.5, -1.0], [2.0, 0.1]])
    num = numerics.numerical_gradient(lambda v: np.sum(np.sin(v) * v), x)
    np.testing.assert_allclose(num, np.cos(x) * x + np.sin(x), rtol=1e-8)
    np.testing.assert_array_equal(x, [[0.5, -1.0], [2.0, 0.1]])   # restored


def _affine_softmax_problem(seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(5, 4)), rng.integers(0, 3, 5)
    params = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}

    def loss(p):
        z = x @ p["W"] + p["b"]
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -logp[np.arange(5), y].mean()

    z = x @ params["W"] + params["b"]
    prob = np.exp(z - z.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    delta = prob.copy()
    delta[np.arange(5), y] -= 1
    delta /= 5
    return loss, params, {"W": x.T @ delta, "b": delta.sum(0)}


def test_gradient_check_passes_correct_gradients():
    loss, params, grads = _affine_softmax_problem()
    report = numerics.gradient_check(loss, params, grads)
    assert report.passed(1e-7), str(report)
    assert set(report.errors) == {"W", "b"} and "max relative error" in str(report)


def test_gradient_check_catches_a_planted_bug():
    loss, params, grads = _affine_softmax_problem()
    grads["W"] = grads["W"] * 1.01
    report = numerics.gradient_check(loss, params, grads)
    assert report.errors["W"] > 1e-3 and report.errors["b"] < 1e-7 and not report.passed()


def test_gradient_check_bad_inputs():
    loss, params, grads = _affine_softmax_problem()
    with pytest.raises(ValueError, match="float64"):
        numerics.gradient_check(loss, {**params, "W": params["W"].astype("float32")}, grads)
    with pytest.raises(ValueError, match="same names"):
        numerics.gradient_check(loss, params, {"W": grads["W"]})
    with pytest.raises(ValueError, match=r"grads\['b'\] has shape \(2,\)"):
        numerics.gradient_check(loss, params, {**grads, "b": np.zeros(2)})
    with pytest.raises(ValueError, match="floating-point"):
        numerics.numerical_gradient(lambda v: 0.0, np.ones(3, dtype=int))


def test_rel_error():
    np.testing.assert_allclose(numerics.rel_error([1.0, 0.0], [1.0, 0.0]), [0.0, 0.0])
    np.testing.assert_allclose(numerics.rel_error([1.0], [3.0]), [0.5])
