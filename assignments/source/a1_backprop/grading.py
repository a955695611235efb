"""Grader spec of A1 · Backpropagation by hand: the hidden calls of every graded test.

Each entry maps a test cell's grade_id to the calls the grader makes on the submission's
functions (inputs drawn from a generator seeded by SEED and the grade_id) and a comparator.
The reference results come from the master solution in a1_backprop.ipynb. This file stays in
assignments/source: it is never released and never enters the sandbox.
"""

import numpy as np

from course_lib.grading.spec import Call, Test, allclose

SEED = 20240917


def _normal(rng, *shape):
    return rng.normal(size=shape)


def _away_from_zero(rng, *shape):
    """Normal entries, none within 1e-3 of 0 (where the ReLU's gradient is a convention)."""
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < 1e-3, 0.5, x)


def _affine_forward(rng):
    calls = []
    for n, d, m in [(7, 5, 4), (1, 3, 9), (16, 2, 2)]:
        calls.append(Call("affine_forward", (_normal(rng, n, d), _normal(rng, d, m), _normal(rng, m)), names=("out",)))
    return calls


def _affine_backward(rng):
    calls = []
    for n, d, m in [(7, 5, 4), (1, 3, 9), (12, 6, 1)]:
        args = (_normal(rng, n, m), _normal(rng, n, d), _normal(rng, d, m), _normal(rng, m))
        calls.append(Call("affine_backward", args, names=("dx", "dw", "db")))
    return calls


def _relu_forward(rng):
    return [Call("relu_forward", (_away_from_zero(rng, *shape),), names=("out",)) for shape in [(6, 5), (2, 3, 4), (7,)]]


def _relu_backward(rng):
    return [Call("relu_backward", (_normal(rng, *shape), _away_from_zero(rng, *shape)), names=("dx",))
            for shape in [(6, 5), (2, 3, 4)]]


def _softmax_loss(rng):
    calls = []
    for n, c, scale in [(9, 4, 1.0), (5, 10, 3.0), (4, 3, 1000.0)]:  # the last overflows without the max shift
        scores, y = scale * _normal(rng, n, c), rng.integers(0, c, n).astype(np.int64)
        calls.append(Call("softmax_loss", (scores, y), names=("loss", "dscores")))
    return calls


def _params(rng, d, h, c):
    return {"W1": _normal(rng, d, h), "b1": _normal(rng, h), "W2": _normal(rng, h, c), "b2": _normal(rng, c)}


def _two_layer_loss(rng):
    calls = []
    for n, d, h, c, reg in [(10, 2, 8, 3, 0.1), (5, 4, 6, 5, 0.0)]:
        args = (_params(rng, d, h, c), _normal(rng, n, d), rng.integers(0, c, n).astype(np.int64))
        calls.append(Call("two_layer_loss", args, {"reg": reg}, names=("loss", "grads")))
    return calls


def _spirals(rng, n, classes=3, noise=0.2):
    y = np.arange(n) % classes
    r = rng.uniform(0.05, 1.0, n)
    theta = y * 2 * np.pi / classes + 4.0 * r + noise * rng.normal(size=n)
    return np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1).astype(np.float32), y.astype(np.int32)


def _train(rng):
    x, y = _spirals(rng, 300)
    x_test, y_test = _spirals(rng, 300)
    kwargs = {"hidden": 32, "lr": 1.0, "steps": 600, "seed": 3}
    return [Call("train_two_layer", (x, y), kwargs, context={"x_test": x_test, "y_test": y_test}, names=("params",))]


MIN_ACCURACY = 0.85


def _accuracy(actual, expected, call):
    """The submission's trained parameters must classify MIN_ACCURACY of held-out points."""
    if not isinstance(actual, dict) or not {"W1", "b1", "W2", "b2"} <= set(actual):
        return f"train_two_layer should return a dict with W1, b1, W2, b2, got {type(actual).__name__}"
    try:
        p = {k: np.asarray(actual[k], dtype=np.float64) for k in ("W1", "b1", "W2", "b2")}
        hidden = np.maximum(call.context["x_test"] @ p["W1"] + p["b1"], 0)
        predicted = np.argmax(hidden @ p["W2"] + p["b2"], axis=1)
    except (ValueError, TypeError) as exc:
        return f"the returned parameters do not fit together ({exc}); check their shapes"
    accuracy = float(np.mean(predicted == call.context["y_test"]))
    if not accuracy >= MIN_ACCURACY:
        return (f"held-out accuracy {accuracy:.1%} is below {MIN_ACCURACY:.0%} "
                "(check the gradients first, then lr and steps)")
    return None


TESTS = {
    "test_affine_forward": Test(_affine_forward, allclose(rtol=1e-6, atol=1e-9), "affine_forward on three shapes"),
    "test_affine_backward": Test(_affine_backward, allclose(rtol=1e-6, atol=1e-9), "dx, dw, db of affine_backward"),
    "test_relu_forward": Test(_relu_forward, allclose(rtol=1e-6, atol=1e-12), "relu_forward on 1-D to 3-D inputs"),
    "test_relu_backward": Test(_relu_backward, allclose(rtol=1e-6, atol=1e-12), "relu_backward"),
    "test_softmax_loss": Test(_softmax_loss, allclose(rtol=1e-5, atol=1e-8), "loss and dscores, large scores included"),
    "test_two_layer_loss": Test(_two_layer_loss, allclose(rtol=1e-5, atol=1e-8), "loss and the four gradients, with and without reg"),
    "test_train_two_layer": Test(_train, _accuracy, f"held-out accuracy of the trained network >= {MIN_ACCURACY:.0%}"),
}
