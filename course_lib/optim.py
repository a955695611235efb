"""2-D loss surfaces and the paths Keras' own optimizers take on them (lecture 03).

Each surface is written with `keras.ops`, so the same function gives NumPy values for a
contour plot and backend tensors for the optimizer.
"""

from __future__ import annotations

import numpy as np
from keras import ops


def ill_conditioned(p):
    """A long narrow valley: 0.5 * (x^2 + 20 y^2), condition number 20, minimum at (0, 0)."""
    return 0.5 * (p[..., 0] ** 2 + 20.0 * p[..., 1] ** 2)


def rosenbrock(p):
    """Rosenbrock's banana valley: (1 - x)^2 + 100 (y - x^2)^2, minimum at (1, 1)."""
    return (1.0 - p[..., 0]) ** 2 + 100.0 * (p[..., 1] - p[..., 0] ** 2) ** 2


def saddle(p):
    """A saddle point at the origin: x^2 - y^2 (plus a quartic wall so that it stays bounded)."""
    return p[..., 0] ** 2 - p[..., 1] ** 2 + 0.25 * p[..., 1] ** 4


SURFACES = {"ill_conditioned": ill_conditioned, "rosenbrock": rosenbrock, "saddle": saddle}


def surface_grid(fn, xlim, ylim, resolution: int = 200):
    """``(X, Y, Z)`` arrays of `fn` on a grid, for `contour` plots."""
    xs, ys = np.linspace(*xlim, resolution), np.linspace(*ylim, resolution)
    X, Y = np.meshgrid(xs, ys)
    Z = ops.convert_to_numpy(fn(ops.convert_to_tensor(np.stack([X, Y], -1).astype("float32"))))
    return X, Y, np.asarray(Z)


def optimizer_path(optimizer, fn, start, steps: int) -> np.ndarray:
    """Minimise `fn` from `start` with a Keras optimizer; returns the visited points, shape ``(steps + 1, 2)``.

    Args:
        optimizer: a fresh ``keras.optimizers`` instance (e.g. ``keras.optimizers.SGD(0.01, momentum=0.9)``).
        fn: a surface such as `rosenbrock`, mapping ``(..., 2)`` to ``(...)``.
        start: the starting point ``(x, y)``.
        steps: number of updates.
    """
    import keras

    from course_lib.autodiff import value_and_grad

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    start = np.asarray(start, dtype="float32")
    if start.shape != (2,):
        raise ValueError(f"start must be a point (x, y), got shape {start.shape}")
    point = keras.Variable(start, name="point")
    optimizer.build([point])
    path = [start.copy()]
    for _ in range(steps):
        _, grads = value_and_grad(lambda: fn(point.value), variables=[point])
        optimizer.apply_gradients(zip(grads, [point]))
        path.append(np.asarray(ops.convert_to_numpy(point.value)))
    return np.stack(path)
