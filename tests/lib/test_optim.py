import keras
import numpy as np
import pytest

import course_lib as cl
from course_lib import optim


def test_surfaces_match_numpy_formulas():
    p = np.array([[0.3, -0.7], [1.0, 1.0], [-1.2, 2.0]], dtype="float32")
    x, y = p[:, 0], p[:, 1]
    np.testing.assert_allclose(np.asarray(optim.rosenbrock(p)), (1 - x) ** 2 + 100 * (y - x ** 2) ** 2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(optim.ill_conditioned(p)), 0.5 * (x ** 2 + 20 * y ** 2), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(optim.saddle(p)), x ** 2 - y ** 2 + 0.25 * y ** 4, rtol=1e-6)


def test_sgd_path_matches_hand_written_gradient_descent():
    lr, start = 0.01, np.array([1.5, 0.8], "float32")
    path = optim.optimizer_path(keras.optimizers.SGD(lr), optim.ill_conditioned, start, steps=20)
    p = start.astype(np.float64)
    expected = [p.copy()]
    for _ in range(20):
        p = p - lr * np.array([p[0], 20 * p[1]])
        expected.append(p.copy())
    np.testing.assert_allclose(path, np.stack(expected), rtol=1e-4, atol=1e-6)


def test_momentum_gets_closer_than_plain_sgd_in_the_valley():
    sgd = optim.optimizer_path(keras.optimizers.SGD(0.001), optim.rosenbrock, (-1.5, 2.0), 150)
    mom = optim.optimizer_path(keras.optimizers.SGD(0.001, momentum=0.9), optim.rosenbrock, (-1.5, 2.0), 150)
    assert float(optim.rosenbrock(mom[-1])) < float(optim.rosenbrock(sgd[-1]))


def test_surface_grid_shape():
    X, Y, Z = optim.surface_grid(optim.saddle, (-1, 1), (-2, 2), resolution=11)
    assert X.shape == Y.shape == Z.shape == (11, 11)
    assert Z[5, 5] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("kwargs,match", [(dict(steps=0), "steps must be at least 1"),
                                          (dict(start=(1.0, 2.0, 3.0)), "start must be a point")])
def test_optimizer_path_bad_arguments(kwargs, match):
    args = {"start": (0.0, 0.0), "steps": 5, **kwargs}
    with pytest.raises(ValueError, match=match):
        optim.optimizer_path(keras.optimizers.SGD(0.1), optim.saddle, **args)
